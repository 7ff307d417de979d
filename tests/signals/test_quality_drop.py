"""quality_drop's statistics on hand-made labels in real DuckDB: Fisher's exact p-value,
Tarone's family, silence with too few labels, labels as of arrival, the cause named once."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
from scipy import stats

from tests.fixtures.signaltables import T, add_label, evaluate, shipped


def labels(
    con: duckdb.DuckDBPyConnection,
    count: int,
    bad: int,
    minutes_ago: float,
    span: float,
    tag: str,
    **cols: object,
) -> None:
    """`count` labels (`bad` of them bad) landing evenly over `span` minutes, the last
    `minutes_ago` minutes before T; the bad ones spread evenly among them."""
    for i in range(count):
        landed = T - timedelta(minutes=minutes_ago - span * (i + 0.5) / count)
        is_bad = (i * bad) // count != ((i + 1) * bad) // count
        add_label(con, f"{tag}-{i}", landed, is_bad, **cols)


def signal(**params: object):
    """quality_drop with one 30-minute window (the statistics tests reason about one)."""
    return shipped("quality_drop", **{"window_minutes": [30], **params})


def fisher_p(k: int, n: int, k_base: int, n_base: int) -> float:
    return float(stats.hypergeom.sf(k - 1, n + n_base, k + k_base, n))


def test_p_value_is_fishers_exact(con: duckdb.DuckDBPyConnection) -> None:
    labels(con, 300, 15, minutes_ago=390, span=360, tag="base")  # baseline 5 %
    labels(con, 60, 12, minutes_ago=30, span=30, tag="cur")  # window 20 %
    p = fisher_p(12, 60, 15, 300)
    # Four groups: the agent and its one variant, model and cohort; Bonferroni / 4.
    above = evaluate(con, signal(alpha=p * 4 * 1.01))
    below = evaluate(con, signal(alpha=p * 4 * 0.99))
    assert [s.labels for s in above] == [
        {"agent_name": "agent", "score_name": "helpfulness", "label_source": "judge:m",
         "prompt_variant": "v1"}
    ]  # fmt: skip
    assert below == []
    assert above[0].value == pytest.approx((12 / 60) / (16 / 301), rel=1e-3)


def test_silent_below_min_labels(con: duckdb.DuckDBPyConnection) -> None:
    labels(con, 300, 0, minutes_ago=390, span=360, tag="base")
    labels(con, 29, 20, minutes_ago=30, span=30, tag="cur")  # 69 % bad, but 29 < 30 labels
    assert evaluate(con, signal()) == []
    labels(con, 1, 1, minutes_ago=1, span=1, tag="one-more")
    assert len(evaluate(con, signal())) == 1


def test_labels_count_from_landing_and_latest_wins(con: duckdb.DuckDBPyConnection) -> None:
    labels(con, 300, 15, minutes_ago=390, span=360, tag="base")
    labels(con, 60, 4, minutes_ago=30, span=30, tag="cur")  # 7 %: healthy
    # Bad labels that land after T do not exist yet at T.
    labels(con, 40, 40, minutes_ago=-1, span=30, tag="later")
    assert evaluate(con, signal()) == []
    # Bad verdicts superseded before T no longer count; superseded after T they still do.
    labels(
        con, 30, 30, minutes_ago=25, span=20, tag="fixed", superseded_at=T - timedelta(minutes=5)
    )
    assert evaluate(con, signal()) == []
    labels(
        con, 30, 30, minutes_ago=25, span=20, tag="stands", superseded_at=T + timedelta(minutes=5)
    )
    assert len(evaluate(con, signal())) == 1


def test_names_the_variant_not_its_dilutions(con: duckdb.DuckDBPyConnection) -> None:
    for variant, model in (("v1", "m1"), ("v2", "m1"), ("v3", "m2")):
        labels(con, 300, 15, minutes_ago=390, span=360, tag=f"base-{variant}",
               prompt_variant=variant, model=model)  # fmt: skip
    labels(con, 60, 20, minutes_ago=30, span=30, tag="cur-v1", prompt_variant="v1", model="m1")
    labels(con, 60, 3, minutes_ago=30, span=30, tag="cur-v2", prompt_variant="v2", model="m1")
    labels(con, 60, 3, minutes_ago=30, span=30, tag="cur-v3", prompt_variant="v3", model="m2")
    fired = evaluate(con, signal())
    assert [s.labels.get("prompt_variant") for s in fired] == ["v1"]
    assert len(fired) == 1  # not the agent, not model m1, not the cohort as well


def test_another_source_or_score_is_its_own_baseline(con: duckdb.DuckDBPyConnection) -> None:
    # Humans mark 30 % bad as a rule; the judge 5 %. Both steady: nothing fires.
    labels(con, 300, 90, minutes_ago=390, span=360, tag="hb", source="human", name="thumbs")
    labels(con, 60, 18, minutes_ago=30, span=30, tag="hc", source="human", name="thumbs")
    labels(con, 300, 15, minutes_ago=390, span=360, tag="jb")
    labels(con, 60, 3, minutes_ago=30, span=30, tag="jc")
    assert evaluate(con, signal()) == []


def test_labels_of_runs_not_landed_are_ignored(con: duckdb.DuckDBPyConnection) -> None:
    labels(con, 300, 0, minutes_ago=390, span=360, tag="base")
    labels(con, 60, 60, minutes_ago=30, span=30, tag="cur", has_run=False, agent_name=None)
    assert evaluate(con, signal()) == []


def test_rejects_unknown_dimensions(con: duckdb.DuckDBPyConnection) -> None:
    from fleetsignals.alerts.evaluation import evaluate_signal

    result = evaluate_signal(con, signal(dimensions=["user_id; drop"]), T)
    assert result.error is not None and "params.dimensions" in result.error


def test_the_longer_window_sees_a_weaker_drop(con: duckdb.DuckDBPyConnection) -> None:
    # 15 % bad for an hour against 4 %: too few labels in 30 minutes to be sure, enough in 60.
    labels(con, 700, 28, minutes_ago=420, span=360, tag="base")
    labels(con, 55, 8, minutes_ago=60, span=30, tag="earlier")
    labels(con, 55, 8, minutes_ago=30, span=30, tag="recent")
    assert evaluate(con, signal()) == []
    (fired,) = evaluate(con, shipped("quality_drop"))  # the shipped windows: 30 and 60 min
    assert fired.labels["prompt_variant"] == "v1"
