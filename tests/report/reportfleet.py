"""The report tests' fleet: 3 h at ~6 runs/min with a stuck-runs incident, through the real pipeline (generate, ingest, dbt build, retain, build)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from fleetsignals.config import Config, load_config
from fleetsignals.demo import rotate_hourly
from fleetsignals.generate import GroundTruth, generate_fleet
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.retention import retain
from fleetsignals.warehouse import build

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 1)


@dataclass
class Fleet:
    truth: GroundTruth
    home: Home
    config: Config
    root: Path


def fleet_config(root: Path, signal_dir: Path) -> Config:
    path = root / "fleetsignals.yml"
    path.write_text(
        f"signal_dirs: [{signal_dir}]\nretention:\n  reevaluate_signals: false\n",
        encoding="utf-8",
    )
    return load_config(path)


def build_report_fleet(root: Path) -> Fleet:
    """generate -> ingest -> dbt build -> retain -> build, through the real pipeline."""
    truth = generate_fleet(
        root / "gen", start=START, hours=3, runs_per_minute=6, seed=11,
        incidents=[("stuck_runs", "1h30m", "30m")],
    )  # fmt: skip
    hourly = rotate_hourly(sorted(truth.dumps.rglob("*.jsonl")), root / "hourly")
    config = fleet_config(root, REPO / "signals")
    home = Home(root / "home").ensure()
    assert land_paths([hourly], home, config, settle_seconds=0).quarantined == 0
    build(home, config)
    retain(home, config, at=truth.end + timedelta(hours=2))
    build(home, config)
    return Fleet(truth, home, config, root)
