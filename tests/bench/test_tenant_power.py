"""bench/tenant_power.py ranks cost per step as the signal does: its z is scipy's U, standardised."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
from scipy import stats

BENCH = Path(__file__).resolve().parents[2] / "bench" / "tenant_power.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("tenant_power", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rank_sum_z_is_the_mann_whitney_u_with_ties_half() -> None:
    rng = np.random.default_rng(3)
    base = np.round(rng.lognormal(0, 0.5, 120), 1)  # rounded: ties between and within
    cur = np.round(rng.lognormal(0.4, 0.5, (5, 11)), 1)
    z = load_bench().rank_sum_z(cur, base)
    for row, got in zip(cur, z, strict=True):
        u = stats.mannwhitneyu(row, base).statistic
        want = (u - 11 * 120 / 2) / math.sqrt(11 * 120 * (11 + 120 + 1) / 12)
        assert math.isclose(got, want, rel_tol=1e-12)
