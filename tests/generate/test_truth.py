"""runs.parquet and ground_truth.json say exactly what the dumps encode, and every
incident leaves the effect it promises."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta

import orjson
import polars as pl
import pytest

from fleetsignals.generate import INCIDENTS, SIGNALS, GroundTruth
from tests.fixtures.dump_reader import Dump, dimension, first, operation, tokens

EPOCH = datetime(1970, 1, 1)
LABELS = {
    "tool_failure": {"tool_name", "prompt_variant"},
    "cost_inflation": {"agent_name", "user_cohort"},
    "silent_loops": {"agent_name", "prompt_variant"},
    "stuck_runs": {"agent_name", "tool_name"},
    "behaviour_drift": {"agent_name", "prompt_variant"},
    "traffic_surge": set(),
}


def at(ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ns // 1000)


@pytest.fixture(scope="module")
def runs(fleet: GroundTruth) -> pl.DataFrame:
    return pl.read_parquet(fleet.runs_path)


def test_runs_match_the_spans(runs: pl.DataFrame, dump: Dump) -> None:
    truth = {r["run_id"]: r for r in runs.iter_rows(named=True)}
    traces = dump.by_trace()
    assert set(truth) == set(traces)
    for run_id, spans in traces.items():
        row = truth[run_id]
        root = next((s for s in spans if s.parent_id is None), None)
        llm = [s for s in spans if operation(s) == "llm"]
        tools = [s for s in spans if operation(s) == "tool"]
        models = Counter(
            first(s.attrs, "gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
            for s in llm
        )
        expected = {
            "status": "running" if root is None else "error" if root.status == 2 else "ok",
            "started_at": at(min(s.start_ns for s in spans)),
            "ended_at": at(root.end_ns) if root else None,
            "step_count": len(llm) + len(tools),
            "llm_call_count": len(llm),
            "tool_call_count": len(tools),
            "tool_error_count": sum(1 for s in tools if s.status == 2),
            "input_tokens": sum(tokens(s)[0] for s in llm),
            "output_tokens": sum(tokens(s)[1] for s in llm),
            "cache_read_tokens": sum(tokens(s)[2] for s in llm),
            "model": min(models, key=lambda m: (-models[m], m)) if models else None,
        }
        for dim in ("agent_name", "prompt_variant", "workflow", "tenant_id", "user_id",
                    "user_cohort", "session_id", "environment"):  # fmt: skip
            expected[dim] = dimension(spans, dim)
        got = {k: row[k] for k in expected}
        assert got == expected, run_id


def test_ground_truth_file(fleet: GroundTruth, runs: pl.DataFrame, dump: Dump) -> None:
    doc = orjson.loads(fleet.path.read_bytes())
    assert doc["seed"] == 11 and doc["start"] == "2026-11-01T00:00:00Z"
    assert doc["end"] == "2026-11-01T06:00:00Z"
    assert doc["counts"] == {
        "runs": runs.height,
        "spans": len(dump.spans),
        "files": len(dump.files),
    }
    assert sorted(i["name"] for i in doc["incidents"]) == sorted(INCIDENTS)
    windows = sorted((i["start"], i["end"]) for i in doc["incidents"])
    assert all(a[1] <= b[0] for a, b in zip(windows, windows[1:], strict=False))
    assert windows[0][0] >= "2026-11-01T02:00:00Z"  # a healthy warm-up first
    for inc in doc["incidents"]:
        assert inc["signal"] == SIGNALS[inc["name"]]
        assert set(inc["labels"]) == LABELS[inc["name"]]
        assert inc["run_ids"] and inc["start"].endswith("Z")


def test_incident_runs_exist_and_lie_in_their_windows(
    fleet: GroundTruth, runs: pl.DataFrame
) -> None:
    for inc in fleet.incidents:
        mine = runs.filter(pl.col("run_id").is_in(inc.run_ids))
        assert mine.height == len(inc.run_ids)
        assert mine["started_at"].min() >= inc.start and mine["started_at"].max() < inc.end
        assert set(mine["incident"]) == {inc.name}
        assert runs.filter(pl.col("incident") == inc.name).height == len(inc.run_ids)
        for dim, value in inc.labels.items():
            if dim != "tool_name":
                assert set(mine[dim]) <= {value}, (inc.name, dim)


def test_healthy_fleet_is_plausible(runs: pl.DataFrame) -> None:
    healthy = runs.filter(pl.col("incident").is_null() & (pl.col("status") != "running"))
    assert 0.005 < (healthy["status"] == "error").mean() < 0.04
    errors = healthy["tool_error_count"].sum() / healthy["tool_call_count"].sum()
    assert 0.005 < errors < 0.06
    steps = healthy["step_count"]
    assert steps.quantile(0.99) > 3 * steps.median()  # heavy tail
    assert healthy["cache_read_tokens"].sum() > 0
    assert healthy["model"].n_unique() >= 4 and healthy["user_cohort"].n_unique() >= 3
    seconds = (healthy["ended_at"] - healthy["started_at"]).dt.total_seconds()
    assert 5 < seconds.median() < 120 and seconds.max() > 90  # seconds to minutes


def _window(runs: pl.DataFrame, inc, before: timedelta | None = None) -> pl.DataFrame:
    if before is None:
        return runs.filter(pl.col("started_at").is_between(inc.start, inc.end, closed="left"))
    return runs.filter(
        pl.col("started_at").is_between(inc.start - before, inc.start, closed="left")
    )


def test_tool_failure_hits_one_tool_and_variant(
    fleet: GroundTruth, runs: pl.DataFrame, dump: Dump
) -> None:
    inc = fleet.incident("tool_failure")
    tool, variant = inc.labels["tool_name"], inc.labels["prompt_variant"]
    traces = dump.by_trace()

    def rate(frame: pl.DataFrame) -> float:
        calls = [s for t in frame["run_id"] for s in traces[t] if operation(s) == "tool"
                 and first(s.attrs, "gen_ai.tool.name", "tool.name") == tool]  # fmt: skip
        assert calls
        return sum(s.status == 2 for s in calls) / len(calls)

    same = pl.col("prompt_variant") == variant
    assert rate(runs.filter(pl.col("run_id").is_in(inc.run_ids))) > 0.25
    assert rate(_window(runs, inc, timedelta(hours=2)).filter(same)) < 0.1
    others = _window(runs, inc).filter(~same)
    if others.height:  # the tool in other variants keeps working
        tool_users = [t for t in others["run_id"] for s in traces[t]
                      if first(s.attrs, "gen_ai.tool.name", "tool.name") == tool]  # fmt: skip
        if tool_users:
            assert rate(others.filter(pl.col("run_id").is_in(tool_users))) < 0.1


def test_cost_inflation_raises_cost_of_one_cohort(fleet: GroundTruth, runs: pl.DataFrame) -> None:
    inc = fleet.incident("cost_inflation")
    scope = (pl.col("agent_name") == inc.labels["agent_name"]) & (
        pl.col("user_cohort") == inc.labels["user_cohort"]
    )
    during = _window(runs, inc).filter(scope)["cost_usd_list"].median()
    before = _window(runs, inc, timedelta(hours=2)).filter(scope)["cost_usd_list"].median()
    assert during > 1.4 * before
    steps_during = _window(runs, inc).filter(scope)["step_count"].median()
    steps_before = _window(runs, inc, timedelta(hours=2)).filter(scope)["step_count"].median()
    assert steps_during <= 1.5 * steps_before  # same behaviour, just dearer


def test_silent_loops_make_a_depth_tail_without_errors(
    fleet: GroundTruth, runs: pl.DataFrame
) -> None:
    inc = fleet.incident("silent_loops")
    loops = runs.filter(pl.col("run_id").is_in(inc.run_ids))
    scope = (pl.col("agent_name") == inc.labels["agent_name"]) & (
        pl.col("prompt_variant") == inc.labels["prompt_variant"]
    )
    before = _window(runs, inc, timedelta(hours=2)).filter(scope)
    assert loops.height >= 5
    assert loops["step_count"].median() > 3 * before["step_count"].median()
    done = loops.filter(pl.col("status") != "running")
    assert set(done["status"]) == {"ok"} and done["tool_error_count"].sum() == 0


def test_stuck_runs_repeat_one_call_while_in_flight(
    fleet: GroundTruth, runs: pl.DataFrame, dump: Dump
) -> None:
    inc = fleet.incident("stuck_runs")
    traces = dump.by_trace()
    healthy = runs.filter(pl.col("incident").is_null() & (pl.col("status") == "ok"))
    typical = (healthy["ended_at"] - healthy["started_at"]).dt.total_seconds().median()
    assert len(inc.run_ids) >= 4
    hung = 0
    for run_id in inc.run_ids:
        spans = sorted(traces[run_id], key=lambda s: s.start_ns)
        calls = [(first(s.attrs, "gen_ai.tool.name", "tool.name"),
                  first(s.attrs, "gen_ai.tool.call.arguments", "input.value"))
                 for s in spans if operation(s) == "tool"]  # fmt: skip
        longest = run = 1
        for a, b in zip(calls, calls[1:], strict=False):
            run = run + 1 if a == b else 1
            longest = max(longest, run)
        assert longest >= 8 and calls[-1][0] == inc.labels["tool_name"]
        root = next((s for s in spans if s.parent_id is None), None)
        if root is None:
            hung += 1
        else:
            assert root.status == 2 and (root.end_ns - root.start_ns) / 1e9 > 5 * typical
    assert 0 < hung < len(inc.run_ids)  # some hang in flight, some fail much later
    statuses = runs.filter(pl.col("run_id").is_in(inc.run_ids))["status"]
    assert statuses.to_list().count("running") == hung


def test_drift_moves_the_tool_mix_only(fleet: GroundTruth, runs: pl.DataFrame, dump: Dump) -> None:
    inc = fleet.incident("behaviour_drift")
    src, dst = inc.params["from_tool"], inc.params["to_tool"]
    scope = (pl.col("agent_name") == inc.labels["agent_name"]) & (
        pl.col("prompt_variant") == inc.labels["prompt_variant"]
    )
    traces = dump.by_trace()

    def mix(frame: pl.DataFrame) -> Counter:
        return Counter(first(s.attrs, "gen_ai.tool.name", "tool.name")
                       for t in frame["run_id"] for s in traces[t] if operation(s) == "tool")  # fmt: skip

    during, before = (
        _window(runs, inc).filter(scope),
        _window(runs, inc, timedelta(hours=2)).filter(scope),
    )
    m1, m0 = mix(during), mix(before)
    share = lambda m, t: m[t] / sum(m.values())  # noqa: E731
    assert share(m1, src) < 0.8 * share(m0, src)
    assert share(m1, dst) > share(m0, dst) + 0.05
    assert statistics.median(during["cost_usd_list"]) < 1.4 * statistics.median(
        before["cost_usd_list"]
    )
    assert during["tool_error_count"].sum() / during["tool_call_count"].sum() < 0.08


def test_surge_multiplies_traffic_not_behaviour(fleet: GroundTruth, runs: pl.DataFrame) -> None:
    inc = fleet.incident("traffic_surge")
    minutes = (inc.end - inc.start).total_seconds() / 60
    during = _window(runs, inc)
    before = _window(runs, inc, timedelta(hours=1))
    assert during.height / minutes > 2.5 * before.height / 60
    assert len(inc.run_ids) == during.height
    ratio = during["cost_usd_list"].median() / before["cost_usd_list"].median()
    assert 0.7 < ratio < 1.4


def test_ground_truth_loads_back(fleet: GroundTruth) -> None:
    again = GroundTruth.load(fleet.out)
    assert again.to_json() == fleet.to_json()
    assert again.files == fleet.files
    assert again.incident("stuck_runs").start == fleet.incident("stuck_runs").start
