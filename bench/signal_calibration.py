"""False-positive calibration of the tail signals on simulated heavy-tailed healthy traffic.

No generator, no pipeline: runs with lognormal costs times an occasional Pareto factor
(a long tail) and negative-binomial step counts with an occasional deep run, straight into
an in-memory `fct_runs`, for several seeds and two traffic levels. The shipped SQL of
`p95_cost_jump` and `depth_tail` is evaluated every 5 minutes with its shipped params, and
again with the significance test switched off (alpha = 1; every minimum count and ratio
gate kept). Prints the share of evaluations that return any row: what a naive tail rule
pages on, and what the exact tests leave.

    .venv/bin/python bench/signal_calibration.py            # ~1 min
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import yaml

SIGNALS = Path(__file__).resolve().parents[1] / "signals"
START = np.datetime64("2026-11-01T00:00:00", "us")


def healthy_runs(seed: int, hours: float, runs_per_minute: float) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = int(hours * 60 * runs_per_minute)
    start = START + (np.sort(rng.uniform(0, hours * 3600, n)) * 1e6).astype("timedelta64[us]")
    seconds = rng.lognormal(np.log(60), 0.8, n)
    agents = rng.choice(["a1", "a2", "a3", "a4"], n, p=[0.4, 0.3, 0.2, 0.1])
    mu = np.select([agents == "a1", agents == "a2", agents == "a3"], [-3.0, -2.5, -2.0], -1.5)
    tail = np.where(rng.random(n) < 0.03, rng.pareto(1.5, n) + 1, 1.0)
    deep = np.where(rng.random(n) < 0.02, rng.integers(5, 25, n), 0)
    return pa.table(
        {
            "run_id": [f"r{i}" for i in range(n)],
            "agent_name": agents,
            "user_cohort": rng.choice(["free", "pro", "ent"], n, p=[0.5, 0.3, 0.2]),
            "prompt_variant": rng.choice(["v1", "v2", "v3"], n, p=[0.5, 0.3, 0.2]),
            "model": rng.choice(["m1", "m2"], n, p=[0.7, 0.3]),
            "status": ["ok"] * n,
            "started_at": start,
            "ended_at": start + (seconds * 1e6).astype("timedelta64[us]"),
            "cost_usd": rng.lognormal(mu, 1.0, n) * tail,
            "step_count": 2 + rng.negative_binomial(3, 0.35, n) + deep,
        }
    )


def share_with_rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> tuple[int, int]:
    """(evaluations returning a row, evaluations), every 5 minutes after a 7-hour warm-up."""
    first, last = con.execute("select min(started_at), max(ended_at) from fct_runs").fetchone()
    at: datetime = first + timedelta(hours=7)
    hits = total = 0
    while at <= last - timedelta(minutes=30):
        hits += bool(con.execute(sql, {**params, "eval_at": at}).fetchall())
        total += 1
        at += timedelta(minutes=5)
    return hits, total


def main() -> None:
    settings = yaml.safe_load((SIGNALS / "_signals.yml").read_text(encoding="utf-8"))
    counts: dict[tuple[str, str], list[int]] = {}
    for seed in range(4):
        for runs_per_minute in (5.0, 20.0):
            with duckdb.connect() as con:
                con.register("runs", healthy_runs(seed, 24, runs_per_minute))
                con.execute("create table fct_runs as select * from runs")
                for name in ("p95_cost_jump", "depth_tail"):
                    sql = (SIGNALS / f"{name}.sql").read_text(encoding="utf-8")
                    params = settings[name]["params"]
                    for variant, override in (("shipped", {}), ("no test", {"alpha": 1.0})):
                        hits, total = share_with_rows(con, sql, {**params, **override})
                        cell = counts.setdefault((name, variant), [0, 0])
                        cell[0] += hits
                        cell[1] += total
        print(f"seed {seed} done", file=sys.stderr)
    print("share of healthy evaluations returning a row (8 simulated fleet-days):")
    for (name, variant), (hits, total) in sorted(counts.items()):
        print(f"  {name:<14} {variant:<8} {hits:>4} of {total} ({hits / total:.2%})")


if __name__ == "__main__":
    main()
