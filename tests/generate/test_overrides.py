"""Incidents pinned to a target and graded in strength (for benchmarks of power)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from fleetsignals.errors import FleetsignalsError
from fleetsignals.generate import generate_fleet

START = datetime(2026, 11, 1)


def _before_during(truth, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    inc = truth.incident(name)
    runs = pl.read_parquet(truth.runs_path).filter(
        (pl.col("agent_name") == inc.labels["agent_name"])
        & (pl.col("prompt_variant") == inc.labels["prompt_variant"])
        & (pl.col("status") == "ok")
    )
    before = runs.filter(
        pl.col("started_at").is_between(inc.start - timedelta(hours=2), inc.start, closed="left")
    )
    during = runs.filter(pl.col("started_at").is_between(inc.start, inc.end, closed="left"))
    return before, during


@pytest.mark.parametrize(
    ("kind", "column", "low", "high"),
    [("step_shift", "step_count", 1.3, 3.0), ("short_output", "output_tokens", 0.3, 0.75)],
)
def test_drift_kinds(tmp_path: Path, kind: str, column: str, low: float, high: float) -> None:
    truth = generate_fleet(
        tmp_path, start=START, hours=4, runs_per_minute=15, seed=11,
        incidents=[("behaviour_drift", "150m", "60m", {"kind": kind})],
    )  # fmt: skip
    before, during = _before_during(truth, "behaviour_drift")
    ratio = during[column].mean() / before[column].mean()
    assert low < ratio < high
    # A step shift adds tool rounds; it does not break anything.
    assert during["tool_error_count"].sum() / during["tool_call_count"].sum() < 0.1


def test_pinned_target_and_strength(tmp_path: Path) -> None:
    healthy = generate_fleet(
        tmp_path / "a", start=START, hours=1, runs_per_minute=2, seed=11, incidents=[]
    )
    agent = healthy.fleet["agents"][-1]
    truth = generate_fleet(
        tmp_path / "b", start=START, hours=5, runs_per_minute=6, seed=11,
        incidents=[
            ("cost_inflation", None, None, {"agent_name": agent["name"], "cost_factor": 3.0}),
            ("behaviour_drift", "1h", "30m", {"prompt_variant": agent["prompt_variants"][0],
                                              "share_moved": 0.1}),
        ],
    )  # fmt: skip
    cost = truth.incident("cost_inflation")
    assert cost.labels["agent_name"] == agent["name"] and cost.params == {"cost_factor": 3.0}
    assert cost.start >= START + timedelta(hours=2)  # automatic, after the warm-up
    drift = truth.incident("behaviour_drift")
    assert drift.labels["prompt_variant"] == agent["prompt_variants"][0]
    assert drift.params["share_moved"] == 0.1 and drift.start == START + timedelta(hours=1)


@pytest.mark.parametrize(
    ("incident", "message"),
    [
        (("behaviour_drift", "1h", "1h", {"kind": "melt"}), "unknown drift kind"),
        (("tool_failure", "1h", "1h", {"tool_name": "teleport"}), "no target for tool_failure"),
        (("stuck_runs", "1h", "1h", {"colour": "red"}), "unknown setting"),
        (("stuck_runs", "1h"), "give a name or"),
    ],
)
def test_bad_overrides(tmp_path: Path, incident: tuple, message: str) -> None:
    with pytest.raises(FleetsignalsError, match=message):
        generate_fleet(
            tmp_path, start=START, hours=3, runs_per_minute=1, seed=1, incidents=[incident]
        )
