"""Labels and OTel evaluation results in the warehouse: fct_labels, fct_run_scores, fct_runs,
fct_quality_windows_60m (real ingest, real labels, real dbt builds)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson
import pytest

from fleetsignals.config import load_config
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.labels.land import land_label_paths
from fleetsignals.timeutil import parse_time
from fleetsignals.warehouse import build
from tests.fixtures.ingest_inputs import T0, attr, jsonl, request, span, write
from tests.fixtures.warehouses import query

MINUTE = 60 * 10**9


def evaluation_event(name: str, score: float | None, label: str | None, at_ns: int) -> dict:
    attributes = [attr("gen_ai.evaluation.name", name)]
    if score is not None:
        attributes.append(attr("gen_ai.evaluation.score.value", score))
    if label is not None:
        attributes.append(attr("gen_ai.evaluation.score.label", label))
    attributes.append(attr("gen_ai.evaluation.explanation", "judged"))
    return {
        "name": "gen_ai.evaluation.result",
        "timeUnixNano": str(at_ns),
        "attributes": attributes,
    }


def agent_run(trace: int, start_ns: int, **root: object) -> list[dict]:
    return [
        span(trace, 0, start_ns=start_ns, duration_ns=2 * MINUTE,
             attributes=[attr("gen_ai.agent.name", "bot"), attr("gen_ai.agent.version", "v1")], **root),
        span(trace, 1, parent=0, start_ns=start_ns + 1000, duration_ns=MINUTE,
             attributes=[attr("gen_ai.operation.name", "chat"), attr("gen_ai.request.model", "m1")]),
    ]  # fmt: skip


@pytest.fixture
def config(tmp_path: Path):
    path = tmp_path / "fleetsignals.yml"
    path.write_text("labels:\n  bad_score_below: {relevance: 0.5}\n")
    return load_config(path)


def test_labels_and_evaluations_join_runs(tmp_path: Path, home: Home, config) -> None:
    run1, run3, late = f"{1:032x}", f"{3:032x}", f"{9:032x}"
    spans = agent_run(1, T0, events=[evaluation_event("relevance", 0.2, None, T0 + 3 * MINUTE)])
    spans += agent_run(3, T0 + MINUTE)
    # An evaluation sent as its own telemetry: its own trace, linked to the run it judges.
    spans.append(span(2, 0, start_ns=T0 + 5 * MINUTE,
                      attributes=[attr("gen_ai.evaluation.name", "correct"),
                                  attr("gen_ai.evaluation.score.label", "Incorrect")],
                      links=[{"traceId": run3, "spanId": f"{1:016x}"}]))  # fmt: skip
    land_paths([write(tmp_path / "in" / "a.jsonl", jsonl([request(spans)]))], home, config)
    labels = tmp_path / "labels.jsonl"
    labels.write_bytes(jsonl([
        {"run_id": run3, "name": "thumbs", "label": "thumbs_down", "source": "human",
         "given_at": "2026-09-21T15:00:00Z"},
        {"run_id": run3, "name": "thumbs", "label": "thumbs_up", "source": "human",
         "given_at": "2026-09-21T15:30:00Z"},  # supersedes the first
        {"run_id": run1, "name": "thumbs", "label": "thumbs_down", "source": "human"},
        {"run_id": late, "name": "thumbs", "label": "bad", "source": "human"},  # run not landed
    ]))  # fmt: skip
    land_label_paths([labels], home, config)
    build(home, config)

    rows = query(home, "select run_id, name, source, label, score, is_bad, is_superseded, has_run "
                       "from fct_labels order by run_id, name, given_at")  # fmt: skip
    assert rows == [
        (run1, "relevance", "evaluation", None, 0.2, True, False, True),  # score below 0.5
        (run1, "thumbs", "human", "thumbs_down", None, True, False, True),
        (run3, "correct", "evaluation", "incorrect", None, True, False, True),
        (run3, "thumbs", "human", "thumbs_down", None, True, True, True),
        (run3, "thumbs", "human", "thumbs_up", None, False, False, True),
        (late, "thumbs", "human", "bad", None, True, False, False),
    ]
    runs = dict((r[0], r[1:]) for r in query(home, "select run_id, label_count, bad_label_count, "
                                                  "has_bad_label from fct_runs"))  # fmt: skip
    assert runs[run1] == (2, 2, True)
    assert runs[run3] == (2, 1, True)  # the evaluation; the superseded thumbs_down no longer counts
    scores = query(home, "select count(*), count(*) filter (where has_run) from fct_run_scores")
    assert scores == [(5, 4)]

    # The late run lands: its label joins at the next build.
    land_paths([write(tmp_path / "in" / "b.jsonl", jsonl([request(agent_run(9, T0 + 4 * MINUTE))]))],
               home, config)  # fmt: skip
    build(home, config)
    assert query(home, "select has_run, agent_name from fct_labels where run_id = ?", [late]) == [
        (True, "bot")
    ]
    assert query(home, "select has_bad_label from fct_runs where run_id = ?", [late]) == [(True,)]


def test_quality_windows_count_labels_as_of_landing(tmp_path: Path, home: Home, config) -> None:
    runs = [f"{t:032x}" for t in range(1, 5)]
    spans = [s for t in range(1, 5) for s in agent_run(t, T0 + t * MINUTE)]
    land_paths([write(tmp_path / "in" / "a.jsonl", jsonl([request(spans)]))], home, config)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(
        "run_id,name,score,source\n" + "".join(f"{r},relevance,0.9,judge:x\n" for r in runs[:2])
    )
    second.write_text(f"run_id,name,score,source\n{runs[2]},relevance,0.1,judge:x\n"
                      f"{runs[0]},relevance,0.3,judge:x\n")  # fmt: skip
    land_label_paths([first], home, config, landed_at=parse_time("2026-09-21T15:00:00Z"))
    land_label_paths([second], home, config, landed_at=parse_time("2026-09-21T15:30:00Z"))
    build(home, config)
    rows = query(home, """
        select strftime(window_end_at, '%H:%M'), label_count, bad_label_count, round(mean_score, 3),
            ended_run_count, labelled_run_count
        from fct_quality_windows_60m
        where dimension = 'fleet' and window_end_at in ('2026-09-21 15:00', '2026-09-21 15:30', '2026-09-21 16:05')
        order by window_end_at""")  # fmt: skip
    # 15:00: two good labels. 15:30: run 1's label superseded by a bad one; run 3 bad.
    # 16:05: the 15:00 landing left the window, the 15:30 labels are still in it.
    assert rows[0][:4] == ("15:00", 2, 0, 0.9)
    assert rows[1][:4] == ("15:30", 3, 2, 0.433)
    assert rows[2][:4] == ("16:05", 2, 2, 0.2)
    orjson.dumps(rows)  # plain values


def test_evaluations_of_an_increment_come_from_the_touched_spans(
    tmp_path: Path, home: Home, config
) -> None:
    """An incremental build finds evaluations in the spans it recomputes: int_spans_touched
    flags the spans mentioning one and keeps their JSON, so the lake is not scanned again."""
    run1 = f"{1:032x}"
    land_paths([write(tmp_path / "in" / "a.jsonl", jsonl([request(agent_run(1, T0))]))],
               home, config)  # fmt: skip
    build(home, config)
    later = [
        span(1, 2, parent=0, start_ns=T0 + 3 * MINUTE,
             events=[evaluation_event("relevance", 0.9, None, T0 + 4 * MINUTE)]),
        span(2, 0, start_ns=T0 + 5 * MINUTE,
             attributes=[attr("gen_ai.evaluation.name", "correct"),
                         attr("gen_ai.evaluation.score.label", "Correct")],
             links=[{"traceId": run1, "spanId": f"{1:016x}"}]),
    ]  # fmt: skip
    land_paths([write(tmp_path / "in" / "b.jsonl", jsonl([request(later)]))], home, config)
    build(home, config)

    assert query(home, "select run_id, name, score, label from fct_labels order by name") == [
        (run1, "correct", None, "correct"),
        (run1, "relevance", 0.9, None),
    ]
    with duckdb.connect(str(home.database), read_only=True) as con:
        flagged = con.execute(
            "select run_id, span_id from int_spans_touched where mentions_evaluation order by 1"
        ).fetchall()
    assert flagged == [(run1, f"{3:016x}"), (f"{2:032x}", f"{1:016x}")]
