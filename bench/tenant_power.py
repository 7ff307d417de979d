"""What a tenant's cost jump lets p95_cost_jump see: its runs per window, and the smallest
jump its shift test could prove at the family's alpha / m.

Reads a tenant-jump fleet built by bench/detection.py (`--work DIR`, the fleet's `gen/`:
the generator's runs and ground truth) and prints, every 15 minutes of the jump:

- the tenant's completed runs of ordinary depth in each current window (the signal judges
  a group only with 20) and in its baseline, with the rank-sum z of their cost per step,
  as the signal computes it;
- the z needed at alpha / m for the given family sizes m;
- per number n of current runs: the median z of a jump by a factor f (n of the tenant's
  own baseline runs, resampled, times f, ranked among its baseline at +60 min; the
  generator's jumps multiply every call's cost, so cost per step by f), the share of
  evaluations a x2 jump is proved at, and the smallest f proved at half and at 90 % of them.

    .venv/bin/python bench/tenant_power.py DIR/tenant-7h-40rpm-s7-x2 --m 270 300
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fleetsignals.timeutil import parse_time  # noqa: E402

BASELINE, LONGEST, MIN_N = timedelta(minutes=360), timedelta(minutes=60), 20


def agent_runs(root: Path) -> tuple[pl.DataFrame, dict]:
    """The jumping agent's completed runs with their cost per step, and the incident."""
    truth = json.loads((root / "gen" / "ground_truth.json").read_text())
    incident = truth["incidents"][0]
    runs = pl.read_parquet(root / "gen" / "runs.parquet").filter(
        pl.col("status").is_in(["ok", "error"])
        & pl.col("cost_usd").is_not_null()
        & (pl.col("agent_name") == incident["labels"]["agent_name"])
    )
    step_cost = pl.col("cost_usd") / pl.col("step_count").clip(1)
    return runs.with_columns(step_cost.alias("step_cost")), incident


def windows(runs: pl.DataFrame, at, minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """Cost per step of the current window and of the baseline, at ordinary depth (runs
    deeper than the baseline's P95 step count are left out, as the signal does)."""
    ended = pl.col("ended_at")
    base = runs.filter((ended <= at - LONGEST) & (ended > at - LONGEST - BASELINE))
    deepest = base["step_count"].quantile(0.95, "lower")
    cur = runs.filter((ended > at - timedelta(minutes=minutes)) & (ended <= at))
    ordinary = pl.col("step_count") <= deepest
    return cur.filter(ordinary)["step_cost"].to_numpy(), base.filter(ordinary)[
        "step_cost"
    ].to_numpy()


def rank_sum_z(cur: np.ndarray, base: np.ndarray) -> np.ndarray:
    """z of each row of CUR among BASE: placements (baseline runs cheaper, ties half),
    normal approximation without tie correction, as in signals/p95_cost_jump.sql."""
    ordered = np.sort(base)
    below = np.searchsorted(ordered, cur, "left")
    placed = below + 0.5 * (np.searchsorted(ordered, cur, "right") - below)
    n, n_base = cur.shape[-1], len(base)
    spread = math.sqrt(n * n_base * (n + n_base + 1) / 12)
    return (placed.sum(axis=-1) - n * n_base / 2) / spread


def smallest_factor(base: np.ndarray, n: int, z_needed: float, power: float) -> str:
    """The smallest factor whose resampled z clears Z_NEEDED at a POWER share of draws."""
    rng = np.random.default_rng(0)
    draws = rng.choice(base, size=(1500, n))
    for factor in np.arange(1.05, 6.0, 0.01):
        if np.quantile(rank_sum_z(draws * factor, base), 1 - power) >= z_needed:
            return f"x{factor:.2f}"
    return "over x6"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fleet", type=Path, help="a tenant-jump fleet of bench/detection.py")
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--m", type=int, nargs="+", default=[270, 300], help="family sizes")
    args = parser.parse_args()
    agent, incident = agent_runs(args.fleet)
    runs = agent.filter(pl.col("tenant_id") == incident["labels"]["tenant_id"])
    jump = parse_time(incident["start"])
    print(f"{incident['labels']} x{incident['params']['cost_factor']:g} from {jump:%H:%M}")
    length = int((parse_time(incident["end"]) - jump).total_seconds() // 60)
    for minutes in [*range(15, length, 15), length]:
        at = jump + timedelta(minutes=minutes)
        cells = []
        for win in (30, 60):
            cur, base = windows(runs, at, win)
            z = rank_sum_z(cur, base) if len(cur) else float("nan")
            cells.append(f"{win} min: {len(cur)} runs (judged from {MIN_N}), z {z:.2f}")
        print(f"  +{minutes:>3} min, baseline {len(base)} runs: " + "; ".join(cells))
    # Where it is judged: its coarser groups, which its runs barely move.
    cohort = runs["user_cohort"].mode()[0]
    for name, group in (
        ("agent", agent),
        (f"cohort {cohort}", agent.filter(pl.col("user_cohort") == cohort)),
    ):
        cur, base = windows(group, jump + LONGEST, 60)
        print(f"  +60 min, {name}'s hour: {len(cur)} runs, z {rank_sum_z(cur, base):.2f}")
    needed = {m: stats.norm.isf(args.alpha / m) for m in args.m}
    print("z needed: " + ", ".join(f"m {m} {z:.2f}" for m, z in needed.items()))
    z_needed = max(needed.values())
    _, base = windows(runs, jump + LONGEST, 60)
    rng = np.random.default_rng(0)
    for n in (6, 11, 16, 20, 26, 33):
        draws = rng.choice(base, size=(4000, n))
        medians = ", ".join(
            f"x{f:g} {np.median(rank_sum_z(draws * f, base)):.2f}" for f in (1.6, 2.0, 2.5)
        )
        proved = np.mean(rank_sum_z(draws * 2.0, base) > z_needed)
        print(f"  n {n:>2}: median z {medians} (x2 proved at {proved:.0%}); smallest factor "
              f"proved at half / 90 % of "
              f"evaluations {smallest_factor(base, n, z_needed, 0.5)} / "
              f"{smallest_factor(base, n, z_needed, 0.9)}")  # fmt: skip


if __name__ == "__main__":
    main()
