"""The figures behind the charts: invariants checked against the snapshot and the lake."""

from __future__ import annotations

import pytest

from fleetsignals.report import attribution, overview, runs, savings
from fleetsignals.report.window import Window, resolve_window
from fleetsignals.snapshot import connect_snapshot
from tests.fixtures.reportfleet import Fleet


@pytest.fixture(scope="module")
def window(fleet: Fleet) -> Window:
    with connect_snapshot(fleet.home) as con:
        found = resolve_window(con, None, None)
    assert found is not None
    return found


def test_default_window_is_the_data_range(fleet: Fleet, window: Window) -> None:
    with connect_snapshot(fleet.home) as con:
        first, last = con.execute(
            "select min(started_at), max(last_span_at) from fct_runs"
        ).fetchone()
    assert (window.start, window.end) == (first, last)  # 3 h of data: under the 24 h cap
    assert fleet.truth.start <= first and last <= fleet.truth.end


def test_every_breakdown_adds_up_to_the_total(fleet: Fleet, window: Window) -> None:
    with connect_snapshot(fleet.home) as con:
        totals = overview.query_totals(con, window)
        hourly = overview.query_hourly(con, window)
        costs = attribution.query_attribution(con, window)
    assert totals["runs"] > 500 and totals["cost_usd"] > 0
    assert sum(hourly["runs"]) == totals["runs"] == costs["runs"]
    assert sum(hourly["cost"]) == pytest.approx(totals["cost_usd"])
    assert costs["total"] == pytest.approx(totals["cost_usd"])
    for dimension, rows in costs["by"].items():
        assert sum(r["cost_usd"] for r in rows) == pytest.approx(costs["total"]), dimension
        shown = [r["cost_usd"] for r in rows if not r["value"].startswith("(other")]
        assert shown == sorted(shown, reverse=True)
    assert 0 <= totals["error_rate"] < 1


def test_costliest_runs_are_the_costliest(fleet: Fleet, window: Window) -> None:
    with connect_snapshot(fleet.home) as con:
        top = runs.query_costliest(con, window)
        costs = [
            row[0]
            for row in con.execute(
                "select coalesce(cost_usd, priced_cost_usd, 0) from fct_runs "
                "where started_at between ? and ? order by 1 desc limit 10",
                [window.start, window.end],
            ).fetchall()
        ]
        calls = dict(
            con.execute("select run_id, count(*) from fct_tool_calls group by all").fetchall()
        )
    assert [r["cost_usd"] for r in top] == pytest.approx(costs)
    for run in top:  # the folded sequence holds every tool call of the run
        assert sum(i["count"] for i in run["sequence"]) == calls.get(run["run_id"], 0)


def test_stuck_runs_flagged_first(fleet: Fleet, window: Window) -> None:
    incident = fleet.truth.incident("stuck_runs")
    flagged = {run_id: "stuck_agent" for run_id in incident.run_ids[:2]}
    with connect_snapshot(fleet.home) as con:
        stuck = runs.query_stuck(con, window, flagged)
    assert {r["run_id"] for r in stuck[:2]} == set(flagged)
    assert [r["why"] for r in stuck[:2]] == ["flagged by stuck_agent"] * 2
    assert all(not r["is_flagged"] for r in stuck[2:])


def test_savings_match_the_lake(fleet: Fleet) -> None:
    with connect_snapshot(fleet.home) as con:
        kept = savings.query_savings(con, fleet.home)
        total_runs, total_spans = con.execute(
            "select count(*), sum(span_count) from fct_runs"
        ).fetchone()
    by_reason = {r["reason"]: r for r in kept["reasons"]}
    assert sum(r["runs"] for r in kept["reasons"]) == total_runs
    assert sum(r["spans"] for r in kept["reasons"]) == total_spans
    assert by_reason["pruned"]["runs"] > 0 and kept["pruned_spans"] > 0
    files = list(fleet.home.lake.glob("dt=*/hr=*/*.parquet"))
    assert kept["lake_bytes"] == sum(p.stat().st_size for p in files)
    # Spans in the lake are those of runs not pruned (plus runs not yet decided).
    assert kept["lake_spans"] == total_spans - kept["pruned_spans"]
    assert kept["saved_bytes_estimate"] > 0
