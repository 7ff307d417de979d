"""One fleet built on DuckDB and on Spark, once per test session (Spark takes seconds to
start on two cores, lives as long as the process, and keeps the one home it started with)."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import pytest

from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.labels.land import land_label_paths
from fleetsignals.warehouse import build
from fleetsignals.warehouse.engines import spark_tables
from tests.fixtures.ingest_inputs import attr, jsonl, request, span, write
from tests.fixtures.lakefiles import config_with
from tests.fixtures.signalfleets import land_fleet
from tests.fixtures.synthetic import write_synthetic_lake
from tests.fixtures.warehouses import START

MINUTE = 60 * 10**9
# The generated incident fleet: seven hours ending with the synthetic lake (START + 2 h),
# so every service falls silent at once (data_stale). A three-hour healthy warm-up gives
# the baselines history, then one incident per shipped signal, one after another
# (explicit windows must not overlap), each firing its signal on both engines.
FLEET_START = START - timedelta(hours=5)
FLEET_HOURS = 7
INCIDENTS = [
    ("cost_inflation", "3h", "40m"),
    ("silent_loops", "3h40m", "40m"),
    ("tool_failure", "4h20m", "30m"),
    ("stuck_runs", "4h50m", "20m"),
    ("behaviour_drift", "5h10m", "40m"),
    # Pinned on seed 2's busiest agent and variant, with bad answers 10x as often as its
    # base rate (the generator draws 3x to 6x): at 10 runs a minute the pair gets about 35
    # judge labels an hour, too few for a drawn factor to reach quality_drop's alpha.
    (
        "quality_drop", "5h50m", "60m",
        {"agent_name": "research_assistant", "prompt_variant": "cot", "bad_factor": 10.0},
    ),
]  # fmt: skip


def evaluation(name: str, at_ns: int, score: float | None = None, label: str | None = None):
    attributes = [attr("gen_ai.evaluation.name", name)]
    if score is not None:
        attributes.append(attr("gen_ai.evaluation.score.value", score))
    if label is not None:
        attributes.append(attr("gen_ai.evaluation.score.label", label))
    return {
        "name": "gen_ai.evaluation.result",
        "timeUnixNano": str(at_ns),
        "attributes": attributes,
    }


def land_quality(home: Home, root: Path, config) -> None:
    """Runs judged by OTel evaluation events (two on one span), by an evaluation span linked
    to its run, and by label files (one label superseding another)."""
    t0 = int(START.replace(tzinfo=UTC).timestamp()) * 10**9 + 30 * MINUTE
    spans = []
    for trace in (1, 2, 3):
        start = t0 + trace * MINUTE
        events = []
        if trace == 1:
            events = [
                evaluation("relevance", start + 3 * MINUTE, score=0.2),
                evaluation("tone", start + 4 * MINUTE, label=" Polite "),
            ]
        spans.append(span(trace, 0, start_ns=start, duration_ns=2 * MINUTE, events=events,
                          attributes=[attr("gen_ai.agent.name", "judged")]))  # fmt: skip
    spans.append(span(4, 0, start_ns=t0 + 9 * MINUTE,
                      attributes=[attr("gen_ai.evaluation.name", "correct"),
                                  attr("gen_ai.evaluation.score.label", "Incorrect")],
                      links=[{"traceId": f"{2:032x}", "spanId": f"{1:016x}"}]))  # fmt: skip
    land_paths([write(root / "in" / "judged.jsonl", jsonl([request(spans)]))], home, config)
    labels = root / "labels.jsonl"
    run3 = f"{3:032x}"
    labels.write_bytes(jsonl([
        {"run_id": run3, "name": "thumbs", "label": "thumbs_down", "source": "human",
         "given_at": "2026-11-20T00:38:00Z"},
        {"run_id": run3, "name": "thumbs", "label": "thumbs_up", "source": "human",
         "given_at": "2026-11-20T00:42:00Z"},
        {"run_id": f"{9:032x}", "name": "thumbs", "label": "bad", "source": "human"},
    ]))  # fmt: skip
    # Landed while the fleet runs, 15 minutes after run 3 ended: the quality windows'
    # label coverage then counts ended runs with and without a label.
    land_label_paths([labels], home, config, landed_at=START + timedelta(minutes=50))


CYCLE_RUN = 5
# The home's fleetsignals.yml. A day's grace: the DuckDB build's publishing must not
# collect the Spark snapshot.
CONFIG = "labels:\n  bad_score_below: {relevance: 0.5}\nwarehouse:\n  snapshot_grace: 24h\n"


def land_parent_cycles(home: Home, root: Path, config) -> None:
    """A run whose parent links loop (trace producers are untrusted): LLM span 1 under a
    cycle of spans 2 and 3, and LLM span 4 in a cycle with span 5. A walk up the parents
    that does not stop on a cycle fails Spark's build (its recursion limit)."""
    start = int(START.replace(tzinfo=UTC).timestamp()) * 10**9 + 42 * MINUTE
    usage = [attr("gen_ai.request.model", "gpt-4o"), attr("gen_ai.usage.input_tokens", 100)]
    parents = {1: 2, 2: 3, 3: 2, 4: 5, 5: 4}
    spans = [span(CYCLE_RUN, 0, start_ns=start, duration_ns=MINUTE)]
    spans += [
        span(CYCLE_RUN, number, parent=parent, start_ns=start + number * 10**9,
             attributes=usage if number in (1, 4) else None)
        for number, parent in parents.items()
    ]  # fmt: skip
    land_paths([write(root / "in" / "cycles.jsonl", jsonl([request(spans)]))], home, config)


def spark_snapshot(home: Home) -> Path:
    """The snapshot the Spark build published: what `fleetsignals sql` read right after it
    (the DuckDB build that followed published the current one)."""
    return home.snapshots / (home.root / "spark" / "CURRENT").read_text(encoding="utf-8").strip()


@pytest.fixture(scope="session")
def built_on_both(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home built on Spark (Parquet under HOME/spark/warehouse, the views exported beside
    it, a snapshot of them: spark_snapshot) and then on DuckDB (the current snapshot).
    Its lake: a synthetic one (two hours, about 3 % failed runs, 5 % failed tool calls,
    an unpriced model, a few runs judged by hand-made evaluations and label files) beside
    a generated fleet with an incident for every shipped signal and generated judge and
    human labels landed as they arrived (INCIDENTS)."""
    root: Path = tmp_path_factory.mktemp("spark-parity")
    home = Home(root / "home").ensure()
    write_synthetic_lake(home.lake, start=START, hours=2, runs_per_minute=3, seed=7)
    config = config_with(root, CONFIG)
    land_quality(home, root, config)
    land_parent_cycles(home, root, config)
    land_fleet(
        root / "fleet", home, config, start=FLEET_START, hours=FLEET_HOURS,
        runs_per_minute=10, seed=2, incidents=INCIDENTS, labels=True,
    )  # fmt: skip
    build(home, config, engine="spark")
    pointer = (home.snapshots / "CURRENT").read_text(encoding="utf-8")
    (home.root / "spark" / "CURRENT").write_text(pointer, encoding="utf-8")
    build(home, config, full_refresh=True, run_tests=False)
    assert spark_tables(home).is_dir()
    return home
