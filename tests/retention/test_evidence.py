"""Retention keeps the evidence of an incident, and a weighted sample of the rest of its group.

One generated fleet (generate -> ingest -> dbt build) with a tool failure and a cost
inflation, retained with the shipped signals. The oracle is the signals' own evaluation
(the public evaluation API at every 5 minutes) and the warehouse's facts: which runs carry
each alert's anomaly follows from what the signal tested, written out here independently
of fleetsignals/retention/evidence.py.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from fleetsignals.alerts.definitions import load_signals
from fleetsignals.alerts.evaluation import evaluate_signal
from fleetsignals.config import load_config
from fleetsignals.generate import generate_fleet
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.orchestrate.demo import rotate_hourly
from fleetsignals.retention import retain
from fleetsignals.retention.policies import HASH_SPACE
from fleetsignals.snapshot import connect_snapshot
from fleetsignals.warehouse import build

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 1)
HOURS = 7
AT = START + timedelta(hours=HOURS + 2)  # every finished run is decided
GROUP_RATE = 0.3  # the configured rate of a flagged group's other runs (uniform sample: 10 %)
# The shipped signals that name groups or runs (fingerprint_drift's evidence is the anomaly
# mart's own marks, which every run with is_anomalous gets anyway).
SIGNALS = ("correlated_failure", "p95_cost_jump", "depth_tail", "stuck_agent")
# Window each signal judged (its window_minutes).
LOOKBACK = {"correlated_failure": 15, "p95_cost_jump": 60, "depth_tail": 60}


def _u(run_id: str) -> float:
    return int(hashlib.md5(run_id.encode()).hexdigest()[:15], 16) / HASH_SPACE


@pytest.fixture(scope="module")
def retained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("evidence")
    truth = generate_fleet(
        root / "gen", start=START, hours=HOURS, runs_per_minute=16, seed=2,
        # The cost baseline needs hours of history (as in tests/signals).
        incidents=[("cost_inflation", "4h", "75m"), ("tool_failure", "5h40m", "40m")],
    )  # fmt: skip
    signals = root / "signals"
    signals.mkdir()
    settings = yaml.safe_load((REPO / "signals" / "_signals.yml").read_text("utf-8"))
    kept = {name: settings[name] for name in SIGNALS if name in settings}
    (signals / "_signals.yml").write_text(yaml.safe_dump(kept), "utf-8")
    for name in SIGNALS:
        shutil.copy(REPO / "signals" / f"{name}.sql", signals)
    path = root / "fleetsignals.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "signal_dirs": [str(signals)],
                # group_min_runs 0: the group's other runs are sampled at exactly GROUP_RATE.
                "retention": {"group_sample_rate": GROUP_RATE, "group_min_runs": 0},
            }
        )
    )
    config = load_config(path)
    home = Home(root / "home").ensure()
    hourly = rotate_hourly(sorted(truth.dumps.rglob("*.jsonl")), root / "hourly")
    assert land_paths([hourly], home, config, settle_seconds=0).quarantined == 0
    build(home, config)
    with connect_snapshot(home) as con:
        runs = {
            r[0]: r[1:]
            for r in con.execute(
                "select run_id, status, cost_usd, step_count, input_tokens, agent_name, "
                "prompt_variant, model, user_cohort, ended_at from fct_runs"
            ).fetchall()
        }
        instances = _instances(con, signals)
        evidence, groups = _oracle(con, instances)
        anomalous = {
            r[0]
            for r in con.execute(
                "select run_id from fct_run_anomaly_scores where is_anomalous"
            ).fetchall()
        }
    summary = retain(home, config, AT)
    assert not summary.notes, summary.notes
    with connect_snapshot(home) as con:
        before = con.execute("select count(*) from fct_runs").fetchone()[0]
    with duckdb.connect() as con:
        files = [str(p) for p in (home.facts / "retention").glob("*.parquet")]
        decided = {
            r[0]: (r[1], r[2])
            for r in con.execute(
                "select run_id, retention_reason, sample_weight from read_parquet($f)",
                {"f": files},
            ).fetchall()
        }
    assert before == len(runs) and len(decided) > 0.99 * len(runs)
    return {
        "runs": runs,
        "decided": decided,
        "instances": instances,
        "evidence": evidence,
        "groups": groups,
        "anomalous": anomalous,
        "summary": summary,
    }


def _instances(con: duckdb.DuckDBPyConnection, directory: Path) -> list[tuple]:
    """(signal, eval time, labels, numeric columns) of every instance at every 5 minutes."""
    signals, problems = load_signals([directory])
    assert not problems
    out = []
    for signal in signals:
        at = START + timedelta(minutes=5)
        while at <= AT:
            evaluation = evaluate_signal(con, signal, at)
            assert evaluation.error is None, evaluation.error
            out += [(signal.name, at, s.labels, s.values) for s in evaluation.samples]
            at += timedelta(minutes=5)
    return out


def _oracle(con: duckdb.DuckDBPyConnection, instances: list[tuple]) -> tuple[set, dict]:
    """Evidence runs (what each alert is about) and each group alert's runs, from the facts."""
    evidence: set[str] = set()
    groups: dict[tuple, set[str]] = {}
    for signal, at, labels, values in instances:
        if "run_id" in labels:
            evidence.add(labels["run_id"])
            continue
        dims = {k: v for k, v in labels.items() if k != "tool_name"}
        match = "".join(f" and cast(r.{k} as varchar) = ${k}" for k in dims)
        low = at - timedelta(minutes=LOOKBACK[signal])
        key = (signal, tuple(sorted(labels.items())))
        if signal == "correlated_failure":
            rows = con.execute(
                "select c.run_id, bool_or(c.is_error) from fct_tool_calls as c "
                "inner join fct_runs as r on r.run_id = c.run_id "
                f"where c.tool_name = $tool and c.ended_at > $low and c.ended_at <= $at{match} "
                "group by c.run_id",
                {**dims, "tool": labels["tool_name"], "low": low, "at": at},
            ).fetchall()
            evidence |= {r for r, failed in rows if failed}
            groups.setdefault(key, set()).update(r for r, _ in rows)
            continue
        column = "cost_usd" if signal == "p95_cost_jump" else "step_count"
        rows = con.execute(
            f"select r.run_id, r.{column} > $bound from fct_runs as r "
            f"where r.ended_at > $low and r.ended_at <= $at{match}",
            {**dims, "bound": values["base_p95"], "low": low, "at": at},
        ).fetchall()
        evidence |= {r for r, above in rows if above}
        groups.setdefault(key, set()).update(r for r, _ in rows)
    return evidence, groups


def test_an_incident_fires_group_alerts(retained: dict) -> None:
    fired = {signal for signal, _, labels, _ in retained["instances"] if "run_id" not in labels}
    assert {"correlated_failure", "p95_cost_jump"} <= fired
    assert retained["evidence"]


def test_every_evidence_run_is_kept_whole(retained: dict) -> None:
    decided = retained["decided"]
    for run_id in retained["evidence"] & set(decided):
        reason, weight = decided[run_id]
        assert reason in ("anomaly", "error", "cost_tail") and weight == 1.0, run_id
    # Failed and timed-out runs are kept too (the contract's first rule).
    for run_id, (status, *_rest) in retained["runs"].items():
        if status in ("error", "timeout") and run_id in decided:
            assert decided[run_id] == ("error", 1.0)


def test_anomaly_is_the_evidence_not_the_group(retained: dict) -> None:
    decided = retained["decided"]
    anomaly = {r for r, (reason, _) in decided.items() if reason == "anomaly"}
    expected = (retained["evidence"] | retained["anomalous"]) & set(decided)
    expected -= {r for r in expected if decided[r][0] in ("error", "cost_tail")}
    assert anomaly == expected
    in_groups = set().union(*retained["groups"].values()) & set(decided)
    assert len(anomaly & in_groups) < 0.5 * len(in_groups)  # the group was not kept whole


def test_the_rest_of_a_group_is_sampled_at_its_rate(retained: dict) -> None:
    decided = retained["decided"]
    rest = set().union(*retained["groups"].values()) & set(decided)
    rest = {r for r in rest if decided[r][0] in ("sampled", "pruned")}
    assert len(rest) > 50  # enough runs for the rate check to mean something
    for run_id in rest:
        reason, weight = decided[run_id]
        if _u(run_id) < GROUP_RATE:
            assert (reason, weight) == ("sampled", pytest.approx(1 / GROUP_RATE)), run_id
        else:
            assert (reason, weight) == ("pruned", 0.0), run_id
    # Outside flagged groups the uniform 10 % sample applies, with weight 10.
    others = {r for r, (reason, _) in decided.items() if reason == "sampled"} - rest
    assert others and all(decided[r][1] == pytest.approx(10.0) for r in others)
    assert all(_u(r) < 0.10 for r in others)


@pytest.mark.parametrize("column", ["runs", "cost_usd", "step_count", "input_tokens"])
def test_weighted_totals_over_kept_runs_estimate_the_true_totals(
    retained: dict, column: str
) -> None:
    """Horvitz-Thompson: sum of weight x value over kept runs estimates the sum over all
    decided runs; its variance is estimated from the sample itself, sum (1 - p) / p^2 x^2
    over the sampled runs (p = 1 / weight), and the estimate must lie within 4 standard
    errors (a false alarm about once in 16,000 fleets)."""
    index = {"runs": None, "cost_usd": 1, "step_count": 2, "input_tokens": 3}[column]
    runs, decided = retained["runs"], retained["decided"]

    def x(run_id: str) -> float:
        return 1.0 if index is None else float(runs[run_id][index] or 0)

    true = sum(x(r) for r in decided)
    estimate = sum(w * x(r) for r, (_, w) in decided.items() if w > 0)
    variance = sum((1 - 1 / w) * w * w * x(r) ** 2 for r, (_, w) in decided.items() if w > 1)
    assert variance > 0
    assert abs(estimate - true) <= 4 * math.sqrt(variance), (estimate, true, variance)


def test_the_summary_reports_runs_and_bytes_per_reason(retained: dict) -> None:
    summary = retained["summary"]
    for reason in ("error", "anomaly", "sampled", "pruned"):
        assert summary.decided[reason].runs > 0 and summary.decided[reason].bytes > 0
    lines = "\n".join(summary.lines())
    assert "bytes %" in lines and "of their span bytes" in lines
    assert {"correlated_failure", "p95_cost_jump"} <= set(summary.anomaly_by_signal)
    assert summary.group_sampled > 0 and "sampled runs of flagged groups" in lines
