"""Policy config parsing and the decision rule, on a real DuckDB table of run facts."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import duckdb
import pytest

from fleetsignals.errors import FleetsignalsError
from fleetsignals.retention.policies import HASH_SPACE, decide_sql, parse_policies

DEFAULTS = {"sample_rate": 0.10, "cost_tail_quantile": 0.99, "policies": None}
T0 = datetime(2026, 11, 26, 8, 0)


def _runs(con: duckdb.DuckDBPyConnection, n: int = 2000, agents: int = 2) -> None:
    """n runs per agent in one hour: every 50th errors, every 97th times out, costs 1..n."""
    con.execute(
        """
        create table runs as
        select
            md5('run-' || a || '-' || i) as run_id,
            'agent-' || a as agent_name,
            case when i % 50 = 0 then 'error' when i % 97 = 0 then 'timeout' else 'ok' end
                as status,
            $t0 + to_milliseconds(i) as started_at,
            $t0 + to_milliseconds(i) + interval 1 minute as end_for_retention,
            (i + 1)::double as cost_usd,
            (i % 7)::bigint as step_count,
            'tenant-' || (i % 3) as tenant_id,
            0::bigint as bad_label_count
        from range($agents) as a (a), range($n) as r (i)
        """,
        {"t0": T0, "n": n, "agents": agents},
    )
    con.execute("create table flags (run_id varchar, signal varchar)")
    con.execute("create table group_rates (run_id varchar, signal varchar, rate double)")


def _decide(con: duckdb.DuckDBPyConnection, retention: dict) -> dict[str, tuple[str, float]]:
    sql, params = decide_sql(parse_policies({**DEFAULTS, **retention}))
    return {r: (reason, w) for r, reason, w in con.execute(sql, params).fetchall()}


def _u(run_id: str, salt: str = "") -> float:
    return int(hashlib.md5((salt + run_id).encode()).hexdigest()[:15], 16) / HASH_SPACE


def test_defaults_keep_errors_timeouts_cost_tail_flags_and_sample_the_rest() -> None:
    with duckdb.connect(":memory:") as con:
        _runs(con)
        flagged = con.execute("select run_id from runs where cost_usd = 7").fetchall()
        con.executemany("insert into flags values (?, 'stuck_agent')", flagged)
        decided = _decide(con, {})
        rows = con.execute(
            "select run_id, agent_name, status, cost_usd from runs order by run_id"
        ).fetchall()
    assert len(decided) == 4000
    for run_id, agent, status, cost in rows:
        reason, weight = decided[run_id]
        if status in ("error", "timeout"):
            assert (reason, weight) == ("error", 1.0)
        elif cost > 1980:  # top 1 % of 2000 per agent-hour = 20 runs, costs 1981..2000
            assert (reason, weight) == ("cost_tail", 1.0), (agent, cost)
        elif cost == 7:
            assert (reason, weight) == ("anomaly", 1.0)
        elif _u(run_id) < 0.10:
            assert reason == "sampled" and weight == pytest.approx(10.0)
        else:
            assert (reason, weight) == ("pruned", 0.0)


def test_cost_tail_counts_exactly_the_top_share_per_agent_and_window() -> None:
    with duckdb.connect(":memory:") as con:
        _runs(con, n=250, agents=3)
        decided = _decide(con, {"sample_rate": 0.0})
    tail = [r for r, (reason, _) in decided.items() if reason == "cost_tail"]
    # ceil(250 * 1 %) = 3 per agent; the top costs 248..250 are never error runs here.
    assert len(tail) == 9


def test_weighted_count_estimates_the_whole_fleet() -> None:
    with duckdb.connect(":memory:") as con:
        _runs(con, n=20000, agents=1)
        decided = _decide(con, {})
    estimate = sum(w for _, w in decided.values())
    assert estimate == pytest.approx(20000, rel=0.05)  # 5 sigma is about 7 %, seed-fixed ids
    sampled = [r for r, (reason, _) in decided.items() if reason == "sampled"]
    assert 0.08 < len(sampled) / 20000 < 0.12


def test_sampling_is_deterministic_and_salted() -> None:
    with duckdb.connect(":memory:") as con:
        _runs(con, n=500, agents=1)
        first = _decide(con, {})
        again = _decide(con, {})
        custom = [
            {
                "name": "s",
                "type": "probabilistic",
                "probabilistic": {"sampling_percentage": 10, "hash_salt": "x"},
            }
        ]
        salted = _decide(con, {"policies": custom})
    assert first == again
    for run_id, (reason, _) in salted.items():
        assert (reason == "sampled") == (_u(run_id, "x") < 0.10)
    assert {r for r, v in salted.items() if v[0] == "sampled"} != {
        r for r, v in first.items() if v[0] == "sampled"
    }


def test_drop_takes_precedence_over_every_keep_reason() -> None:
    policies = [
        {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
        {"name": "all", "type": "always_sample", "reason": "anomaly"},
        {
            "name": "no-tenant-0",
            "type": "drop",
            "drop": {
                "drop_sub_policy": [
                    {
                        "type": "string_attribute",
                        "string_attribute": {"key": "tenant_id", "values": ["tenant-0"]},
                    }
                ]
            },
        },
    ]
    with duckdb.connect(":memory:") as con:
        _runs(con, n=300, agents=1)
        decided = _decide(con, {"policies": policies})
        tenants = dict(con.execute("select run_id, tenant_id from runs").fetchall())
        statuses = dict(con.execute("select run_id, status from runs").fetchall())
    for run_id, (reason, weight) in decided.items():
        if tenants[run_id] == "tenant-0":
            assert (reason, weight) == ("pruned", 0.0)
        elif statuses[run_id] == "error":
            assert reason == "error"
        else:
            assert reason == "anomaly"


def test_numeric_string_regex_latency_and_and_policies() -> None:
    policies = [
        {
            "name": "long",
            "type": "latency",
            "latency": {"threshold_ms": 60000},
            "reason": "anomaly",
        },
    ]
    with duckdb.connect(":memory:") as con:
        _runs(con, n=100, agents=1)
        assert {v[0] for v in _decide(con, {"policies": policies}).values()} == {"anomaly"}
        policies = [
            {
                "name": "steps",
                "type": "numeric_attribute",
                "numeric_attribute": {"key": "step_count", "min_value": 6},
                "reason": "anomaly",
            },
            {
                "name": "t1",
                "type": "string_attribute",
                "string_attribute": {
                    "key": "tenant_id",
                    "values": ["^tenant-1$"],
                    "enabled_regex_matching": True,
                },
                "reason": "cost_tail",
            },
            {
                "name": "half-of-t2",
                "type": "and",
                "and": {
                    "and_sub_policy": [
                        {
                            "type": "string_attribute",
                            "string_attribute": {"key": "tenant_id", "values": ["tenant-2"]},
                        },
                        {"type": "probabilistic", "probabilistic": {"sampling_percentage": 50}},
                    ]
                },
            },
        ]
        decided = _decide(con, {"policies": policies})
        facts = con.execute("select run_id, step_count, tenant_id from runs").fetchall()
    for run_id, steps, tenant in facts:
        reason, weight = decided[run_id]
        if steps >= 6:
            assert reason == "anomaly"
        elif tenant == "tenant-1":
            assert reason == "cost_tail"
        elif tenant == "tenant-2" and _u(run_id) < 0.5:
            assert (reason, weight) == ("sampled", 2.0)
        else:
            assert (reason, weight) == ("pruned", 0.0)


def test_overlapping_samples_weight_by_the_highest_applicable_rate() -> None:
    policies = [
        {"name": "base", "type": "probabilistic", "probabilistic": {"sampling_percentage": 10}},
        {
            "name": "t0",
            "type": "and",
            "and": {
                "and_sub_policy": [
                    {
                        "type": "string_attribute",
                        "string_attribute": {"key": "tenant_id", "values": ["tenant-0"]},
                    },
                    {"type": "probabilistic", "probabilistic": {"sampling_percentage": 40}},
                ]
            },
        },
    ]
    with duckdb.connect(":memory:") as con:
        _runs(con, n=3000, agents=1)
        decided = _decide(con, {"policies": policies})
        tenants = dict(con.execute("select run_id, tenant_id from runs").fetchall())
    for run_id, (reason, weight) in decided.items():
        rate = 0.4 if tenants[run_id] == "tenant-0" else 0.1
        if _u(run_id) < rate:
            assert (reason, weight) == ("sampled", pytest.approx(1 / rate))
        else:
            assert reason == "pruned"
    estimate = sum(w for _, w in decided.values())
    assert estimate == pytest.approx(3000, rel=0.15)


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        ([{"type": "nope"}], "type must be one of"),
        ([{"type": "status_code", "status_code": {"status_codes": ["UNSET"]}}], "not a run status"),
        ([{"type": "always_sample"}], "give a reason"),
        ([{"type": "always_sample", "reason": "sampled"}], "reason must be one of"),
        ([{"type": "probabilistic", "probabilistic": {"sampling_percentage": 120}}], "0 to 100"),
        ([{"type": "percentile", "percentile": {"window": "7m"}}], "divide a day"),
        (
            [
                {
                    "type": "drop",
                    "drop": {
                        "drop_sub_policy": [
                            {"type": "probabilistic", "probabilistic": {"sampling_percentage": 5}}
                        ]
                    },
                }
            ],
            "cannot contain probabilistic",
        ),
        ([{"type": "status_code", "bogus": 1}], "unknown key 'bogus'"),
        (
            [{"type": "numeric_attribute", "numeric_attribute": {"key": "cost_usd"}}],
            "min_value, max_value",
        ),
        ("all", "must be a list"),
    ],
)
def test_bad_policies_say_what_to_fix(policies: object, message: str) -> None:
    with pytest.raises(FleetsignalsError, match=message):
        parse_policies({**DEFAULTS, "policies": policies})


def test_window_and_columns_are_reported() -> None:
    parsed = parse_policies(
        {
            **DEFAULTS,
            "policies": [
                {"type": "percentile", "percentile": {"window": "6h", "key": "step_count"}}
            ],
        }
    )
    assert parsed.window == timedelta(hours=6)
    assert parsed.columns_used == {"step_count", "agent_name"}


def _sized_runs(con: duckdb.DuckDBPyConnection, n: int = 1500) -> None:
    """n ok runs over two hours, 2 to 60 spans each (most small, a long tail, as agents run)."""
    con.execute(
        """
        create table runs as
        select
            md5('sized-' || i) as run_id,
            'agent-0' as agent_name,
            'ok' as status,
            $t0 + to_seconds(i * 7200 // $n) as started_at,
            $t0 + to_seconds(i * 7200 // $n) + interval 1 second as end_for_retention,
            1.0 as cost_usd,
            (2 + (hash(i) % 1000) ** 3 // 17000000)::bigint as span_count,
            0::bigint as bad_label_count
        from range($n) as r (i)
        """,
        {"t0": T0, "n": n},
    )
    con.execute("create table flags (run_id varchar, signal varchar)")
    con.execute("create table group_rates (run_id varchar, signal varchar, rate double)")


def _by_spans(salt: str = "") -> dict:
    sample = {"sampling_percentage": 10, "hash_salt": salt}
    return {
        "sample_by": "spans",
        "policies": [
            {"name": "f", "type": "signal_flagged"},
            {"name": "s", "type": "probabilistic", "probabilistic": sample},
        ],
    }


def test_sampling_by_spans_gives_each_run_a_chance_inverse_to_its_spans() -> None:
    with duckdb.connect(":memory:") as con:
        _sized_runs(con)
        big = con.execute("select run_id from runs order by span_count desc limit 1").fetchone()
        con.execute("insert into group_rates values ($r, 'g', 1.0)", {"r": big[0]})
        decided = _decide(con, _by_spans())
        again = _decide(con, _by_spans())
        rows = con.execute(
            "select run_id, span_count, hour(end_for_retention) from runs order by run_id"
        ).fetchall()
    assert decided == again
    inverse: dict[int, list[float]] = {}
    for _, spans, hour in rows:
        inverse.setdefault(hour, []).append(1 / spans)
    harmonic = {hour: len(v) / sum(v) for hour, v in inverse.items()}
    chances = {}
    for run_id, spans, hour in rows:
        chance = 1.0 if run_id == big[0] else min(1.0, 0.10 * harmonic[hour] / spans)
        chances[run_id] = chance
        reason, weight = decided[run_id]
        if _u(run_id) < chance:
            assert (reason, weight) == ("sampled", pytest.approx(1 / chance))
        else:
            assert (reason, weight) == ("pruned", 0.0)
    # The mean chance per run stays the rate; the expected share of spans falls below it.
    sizes = {r: s for r, s, _ in rows}
    assert sum(chances.values()) / len(chances) == pytest.approx(0.10, abs=0.002)
    assert sum(chances[r] * sizes[r] for r in sizes) / sum(sizes.values()) < 0.08


def test_sampling_by_spans_estimates_span_totals_without_bias() -> None:
    """Horvitz-Thompson over 300 hash salts: the mean estimate of the runs' total spans (a
    span-level total) and of the run count is within 4 standard errors of the truth."""
    with duckdb.connect(":memory:") as con:
        _sized_runs(con, n=1000)
        truth = con.execute("select sum(span_count), count(*) from runs").fetchone()
        sizes = dict(con.execute("select run_id, span_count from runs").fetchall())
        estimates = []
        for salt in range(300):
            decided = _decide(con, _by_spans(f"salt-{salt}"))
            estimates.append(
                (
                    sum(w * sizes[r] for r, (_, w) in decided.items()),
                    sum(w for _, w in decided.values()),
                )
            )
    for k, true in enumerate(truth):
        values = [e[k] for e in estimates]
        mean = sum(values) / len(values)
        spread = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
        assert abs(mean - true) < 4 * spread / len(values) ** 0.5, (k, mean, true, spread)


def test_sample_by_must_be_runs_or_spans() -> None:
    with pytest.raises(FleetsignalsError, match="sample_by must be one of runs, spans"):
        parse_policies({**DEFAULTS, "sample_by": "bytes"})
    assert "span_count" in parse_policies({**DEFAULTS, "sample_by": "spans"}).columns_used
