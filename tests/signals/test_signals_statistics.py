"""The shipped signals' statistics, checked exactly on hand-made tables in real DuckDB.

Each signal's SQL is loaded by the real loader and run by the real evaluator against an
in-memory database holding only the contract columns it reads. P-values are checked
against scipy by moving alpha just above and just below the exact p-value.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import duckdb
import pytest
from scipy import stats

from tests.fixtures.signaltables import T, add_run, add_span, add_tool_call, evaluate, shipped

# -- correlated_failure ------------------------------------------------------------------


def tool_window(
    con: duckdb.DuckDBPyConnection,
    calls: int,
    errors: int,
    minutes_ago: float,
    span: float,
    tag: str = "",
) -> None:
    """`calls` calls of `search` (`errors` of them failing) ending evenly over `span` minutes,
    the last `minutes_ago` minutes before T; one run per call."""
    for i in range(calls):
        ended = T - timedelta(minutes=minutes_ago - span * (i + 0.5) / calls)
        run_id = f"{tag}r{minutes_ago}-{i}"
        add_run(con, run_id, ended)
        add_tool_call(con, run_id, run_id, ended, is_error=i < errors)


def fisher_p(k: int, n: int, k_base: int, n_base: int) -> float:
    return float(stats.hypergeom.sf(k - 1, n + n_base, k + k_base, n))


def test_correlated_failure_p_value_is_fishers_exact(con: duckdb.DuckDBPyConnection) -> None:
    tool_window(con, calls=400, errors=8, minutes_ago=195, span=180)  # baseline: 2 %
    tool_window(con, calls=40, errors=6, minutes_ago=15, span=15)  # window: 15 %
    p = fisher_p(6, 40, 8, 400)
    # Four groups are tested (the tool, and its one variant, model and cohort): Bonferroni /4.
    above = evaluate(con, shipped("correlated_failure", alpha=p * 4 * 1.01, min_ratio=1.0))
    below = evaluate(con, shipped("correlated_failure", alpha=p * 4 * 0.99, min_ratio=1.0))
    assert [s.labels for s in above] == [{"tool_name": "search", "prompt_variant": "v1"}]
    assert below == []
    ratio = (6 / 40) / (9 / 401)
    assert above[0].value == pytest.approx(ratio, rel=1e-3)


def test_correlated_failure_needs_min_errors(con: duckdb.DuckDBPyConnection) -> None:
    # 4 errors in 20 calls against a clean baseline is a huge ratio, and still not enough.
    tool_window(con, calls=400, errors=0, minutes_ago=195, span=180)
    tool_window(con, calls=20, errors=4, minutes_ago=15, span=15)
    assert evaluate(con, shipped("correlated_failure", alpha=1.0)) == []
    con.execute("update fct_tool_calls set is_error = true where run_id = 'r15-5'")
    assert evaluate(con, shipped("correlated_failure", alpha=1.0)) != []


def test_correlated_failure_needs_errors_from_several_runs(
    con: duckdb.DuckDBPyConnection,
) -> None:
    tool_window(con, calls=400, errors=8, minutes_ago=195, span=180)
    tool_window(con, calls=40, errors=10, minutes_ago=15, span=15)
    assert evaluate(con, shipped("correlated_failure")) != []
    # The same ten errors from two runs retrying: one run's trouble is not a correlated failure.
    con.execute(
        "update fct_tool_calls set run_id = case when span_id < 'r15-5' then 'r15-0' else 'r15-5' end "
        "where is_error and ended_at > $t",
        {"t": T - timedelta(minutes=15)},
    )
    assert evaluate(con, shipped("correlated_failure")) == []


def test_correlated_failure_ignores_calls_after_eval_at(con: duckdb.DuckDBPyConnection) -> None:
    tool_window(con, calls=400, errors=8, minutes_ago=195, span=180)
    tool_window(con, calls=40, errors=20, minutes_ago=-1, span=10)  # all end after T
    assert evaluate(con, shipped("correlated_failure")) == []


def test_correlated_failure_reports_the_cause_not_its_dilutions(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # Variant v2 fails; its calls are spread over two cohorts, which fire diluted too.
    for variant, cohort, errors in (("v1", "free", 1), ("v1", "pro", 1), ("v2", "free", 12), ("v2", "pro", 12)):  # fmt: skip
        before = con.execute("select count(*) from fct_runs").fetchone()[0]
        tag = f"{variant}{cohort}"
        tool_window(con, calls=150, errors=3, minutes_ago=195, span=180, tag=tag)
        tool_window(con, calls=40, errors=errors, minutes_ago=15, span=15, tag=tag)
        con.execute(
            "update fct_runs set prompt_variant = $v, user_cohort = $c where rowid >= $n",
            {"v": variant, "c": cohort, "n": before},
        )
    samples = evaluate(con, shipped("correlated_failure"))
    assert [s.labels for s in samples] == [{"tool_name": "search", "prompt_variant": "v2"}]


# -- p95_cost_jump -------------------------------------------------------------------------


def cost_runs(
    con: duckdb.DuckDBPyConnection, costs: list[float], minutes_ago: float, span: float, tag: str
) -> None:
    for i, cost in enumerate(costs):
        ended = T - timedelta(minutes=minutes_ago - span * (i + 0.5) / len(costs))
        add_run(con, f"{tag}{i}", ended, cost_usd=cost)


def test_p95_cost_jump_p_value_is_the_exact_exceedance_law(
    con: duckdb.DuckDBPyConnection,
) -> None:
    n_base, n = 300, 60
    cost_runs(con, [1.0 + i / n_base for i in range(n_base)], 420, 360, "b")
    # 12 of 60 current runs cost more than anything in the baseline; the rest are cheap.
    cost_runs(con, [0.5] * (n - 12) + [5.0] * 12, 60, 60, "c")
    base_p95 = 1.0 + 0.95 * (n_base - 1) / n_base
    j = sum(1 for i in range(n_base) if 1.0 + i / n_base > base_p95)
    p = float(stats.betabinom.sf(12 - 1, n, j + 1, n_base - j))
    # Four groups tested (the agent, and its one cohort, variant and model), two thresholds
    # each (the baseline P95 and P75; above the P75 the 12 are no excess), one window; all
    # eight can reach significance, so Tarone's m is 8.
    hour = {"window_minutes": [60]}
    above = evaluate(con, shipped("p95_cost_jump", alpha=p * 8 * 1.01, **hour))
    below = evaluate(con, shipped("p95_cost_jump", alpha=p * 8 * 0.99, **hour))
    assert len(above) == 1 and below == []
    current_p95 = 5.0
    assert above[0].value == pytest.approx(current_p95 / base_p95, rel=1e-3)


def test_p95_cost_jump_shift_p_value_is_the_rank_sum_law(
    con: duckdb.DuckDBPyConnection,
) -> None:
    n_base, n = 300, 40
    baseline = [math.exp(2 * i / n_base) for i in range(n_base)]  # P75 4.48, P95 6.69
    cost_runs(con, baseline, 420, 360, "b")
    # Every current run in the baseline's upper body and none above its P95: no tail
    # evidence at all (k = 0), a clear shift (current P75 6.3, 1.4x the baseline's).
    current = [5.0 + 1.6 * ((i * 7) % n) / n for i in range(n)]
    cost_runs(con, current, 60, 60, "c")
    rank_sum = stats.mannwhitneyu(current, baseline, alternative="greater", method="asymptotic",
                                  use_continuity=False)  # fmt: skip
    p = float(rank_sum.pvalue)
    # The normal approximation never claims more than the exact permutation law allows.
    exact = stats.mannwhitneyu(current, baseline, alternative="greater", method="exact")
    assert p >= float(exact.pvalue)
    # Four groups (the agent, its one cohort, variant and model) x two tests, one window;
    # all eight can reach significance, so Tarone's m is 8. The closed-form normal tail is
    # within 0.3 % of scipy's.
    hour = {"window_minutes": [60]}
    above = evaluate(con, shipped("p95_cost_jump", alpha=p * 8 * 1.01, **hour))
    below = evaluate(con, shipped("p95_cost_jump", alpha=p * 8 * 0.99, **hour))
    assert [s.labels for s in above] == [{"agent_name": "agent", "prompt_variant": "v1"}]
    assert below == []
    assert above[0].value < 1.0  # the P95 did not move: the body did


def test_p95_cost_jump_sees_a_shift_before_the_tail_proves_it(
    con: duckdb.DuckDBPyConnection,
) -> None:
    baseline = [1.0 + i / 300 for i in range(300)]  # P75 1.75, P95 1.95
    cost_runs(con, baseline, 420, 360, "b")
    # 4 of 50 current runs above the baseline P95 is no evidence (2.7 expected), and yet
    # every run moved above the baseline P75, and the P95 is 1.33x the baseline's.
    cost_runs(con, [1.8 + i * 0.003 for i in range(46)] + [2.6] * 4, 60, 60, "c")
    samples = evaluate(con, shipped("p95_cost_jump"))
    # The agent, its one variant, model and cohort hold the same runs: the most specific
    # dimension in the fixed order names them (prompt_variant before model and cohort).
    assert [s.labels for s in samples] == [{"agent_name": "agent", "prompt_variant": "v1"}]
    assert samples[0].value == pytest.approx(2.6 / (1.0 + 0.95 * 299 / 300), rel=1e-3)
    # The same tail without the shift of the body: nothing to report.
    con.execute("update fct_runs set cost_usd = cost_usd - 0.6 where cost_usd between 1.8 and 2")
    assert evaluate(con, shipped("p95_cost_jump")) == []


def test_p95_cost_jump_ignores_volume(con: duckdb.DuckDBPyConnection) -> None:
    # Five times the traffic with the same cost distribution: nothing to report.
    cost_runs(con, [1.0 + (i * 7919 % 300) / 300 for i in range(300)], 420, 360, "b")
    cost_runs(con, [1.0 + (i * 7919 % 300) / 300 for i in range(300)], 60, 60, "c")
    assert evaluate(con, shipped("p95_cost_jump", alpha=0.5)) == []


def test_p95_cost_jump_leaves_deep_runs_to_depth_tail(con: duckdb.DuckDBPyConnection) -> None:
    cost_runs(con, [1.0 + i / 300 for i in range(300)], 420, 360, "b")
    cost_runs(con, [1.0 + i / 60 for i in range(40)] + [5.0] * 20, 60, 60, "c")
    assert evaluate(con, shipped("p95_cost_jump")) != []
    # The same expensive runs, but they are the ones that looped (deeper than the baseline).
    con.execute("update fct_runs set step_count = 40 where cost_usd = 5.0")
    assert evaluate(con, shipped("p95_cost_jump")) == []


# -- depth_tail ----------------------------------------------------------------------------


def depth_runs(
    con: duckdb.DuckDBPyConnection, steps: list[int], minutes_ago: float, span: float, tag: str
) -> None:
    for i, count in enumerate(steps):
        ended = T - timedelta(minutes=minutes_ago - span * (i + 0.5) / len(steps))
        add_run(con, f"{tag}{i}", ended, step_count=count)


def test_depth_tail_needs_an_absolute_minimum_of_deep_runs(
    con: duckdb.DuckDBPyConnection,
) -> None:
    depth_runs(con, [4 + i % 10 for i in range(300)], 420, 360, "b")  # P95 = 13
    depth_runs(con, [5] * 33 + [60] * 7, 60, 60, "c")  # 7 deep runs in thin traffic
    assert evaluate(con, shipped("depth_tail", alpha=1.0)) == []
    con.execute("update fct_runs set step_count = 60 where run_id = 'c0'")  # the 8th
    samples = evaluate(con, shipped("depth_tail"))
    assert [s.labels for s in samples] == [{"agent_name": "agent", "prompt_variant": "v1"}]
    # 8 of 40 runs deeper than 13 steps, against 1 pseudo-run in 301 in the baseline.
    assert samples[0].value == pytest.approx((8 / 40) / (1 / 301), rel=1e-3)


def test_depth_tail_a_long_tail_is_not_news(con: duckdb.DuckDBPyConnection) -> None:
    # P99 far above 3x the median in both windows: the same shape, nothing fires.
    shape = [3] * 50 + [4] * 30 + [6] * 12 + [15] * 5 + [40] * 3
    depth_runs(con, shape * 3, 420, 360, "b")
    depth_runs(con, shape, 60, 60, "c")
    assert evaluate(con, shipped("depth_tail", alpha=0.5)) == []


def test_depth_tail_ignores_failed_runs(con: duckdb.DuckDBPyConnection) -> None:
    depth_runs(con, [4 + i % 10 for i in range(300)], 420, 360, "b")
    depth_runs(con, [5] * 20 + [60] * 20, 60, 60, "c")
    assert evaluate(con, shipped("depth_tail")) != []
    con.execute("update fct_runs set status = 'error' where step_count = 60")
    assert evaluate(con, shipped("depth_tail")) == []


# -- stuck_agent -----------------------------------------------------------------------------


def stuck_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    tools: list[tuple[str, str | None]],
    last_call_ago: float,
    *,
    root_ended_at: datetime | None = None,
    gap: float = 0.5,
) -> None:
    """A run whose tool calls (name, args hash) end `gap` minutes apart, the last one
    `last_call_ago` minutes before T; the root ended at `root_ended_at` (None: no root)."""
    first = T - timedelta(minutes=last_call_ago + gap * (len(tools) - 1))
    ends = [first + timedelta(minutes=gap * i) for i in range(len(tools))]
    status = "running" if root_ended_at is None else "ok"
    add_run(
        con, run_id, root_ended_at or ends[-1], started_at=first - timedelta(minutes=1),
        last_span_at=max(ends[-1], root_ended_at or ends[-1]), status=status,
    )  # fmt: skip
    for i, ((tool, args), ended) in enumerate(zip(tools, ends, strict=True)):
        add_tool_call(con, run_id, f"{run_id}-{i}", ended, tool, tool_args_hash=args, seconds=5)
        add_span(con, run_id, ended)
    add_span(con, "other-run", T)  # data keeps flowing: the service's horizon is T
    if root_ended_at is None:
        con.execute("update fct_runs set ended_at = null where run_id = $r", {"r": run_id})


def stuck(con: duckdb.DuckDBPyConnection) -> dict[str, float | None]:
    return {s.labels["run_id"]: s.value for s in evaluate(con, shipped("stuck_agent"))}


def test_stuck_agent_streaks_of_in_flight_runs(con: duckdb.DuckDBPyConnection) -> None:
    varied = [("search", f"a{i}") for i in range(8)]
    stuck_run(con, "streak", [("read", "x")] + varied, 1)  # 8 in a row, still running
    stuck_run(con, "short", [("read", "x")] + varied[:7], 1)  # 7 in a row
    stuck_run(con, "identical", [("search", "same")] * 5, 1)  # 5 identical calls
    stuck_run(con, "no_args", [("search", None)] * 5, 1)  # no arguments to compare
    stuck_run(con, "ended", varied, 5, root_ended_at=T - timedelta(minutes=2))
    # Ended after T: it was in flight at T, and the calls it had made by then count.
    stuck_run(con, "ends_later", varied, 1, root_ended_at=T + timedelta(minutes=3))
    found = stuck(con)
    assert found == {"streak": 8, "identical": 5, "ends_later": 8}
    labels = {s.labels["run_id"]: s.labels for s in evaluate(con, shipped("stuck_agent"))}
    assert labels["streak"] == {"run_id": "streak", "agent_name": "agent", "tool_name": "search"}


def test_stuck_agent_sees_only_calls_ended_by_eval_at(con: duckdb.DuckDBPyConnection) -> None:
    # Eight identical calls, but only three had ended by T (the others end after it).
    stuck_run(con, "late", [("search", "same")] * 8, -2.25, gap=0.5)
    assert stuck(con) == {}


def test_stuck_agent_quiet_runs_until_the_warehouse_calls_them_timeouts(
    con: duckdb.DuckDBPyConnection,
) -> None:
    stuck_run(con, "busy", [("search", "a")], 2)  # quiet for 2 min: exporters lag
    stuck_run(con, "quiet", [("search", "a")], 12)
    stuck_run(con, "dead", [("search", "a")], 40)  # a timeout by now: not stuck_agent's
    assert stuck(con) == {"quiet": pytest.approx(12.0)}
