"""Fixtures: hand-built lakes for the feature mart, a generated fleet for the signal.

Everything is real: Parquet lake files, the dbt build, the published snapshot,
the alerts engine's backtest. Builds cost seconds, so the generated fleet is
built once per session.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fleetsignals.config import Config
from fleetsignals.generate import GroundTruth, generate_fleet
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.warehouse import build
from tests.fixtures.lakefiles import config_with

FLEET_START = datetime(2026, 11, 1)


@pytest.fixture
def lake_home(tmp_path: Path) -> tuple[Home, Config]:
    return Home(tmp_path / "home").ensure(), config_with(tmp_path)


@pytest.fixture(scope="session")
def drift_fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, Config, GroundTruth]:
    """Seven hours at the generator's default rate: its behaviour_drift incident, then the
    traffic surge and the cost inflation (the two that must stay silent), ingested and built."""
    root = tmp_path_factory.mktemp("drift_fleet")
    truth = generate_fleet(
        root / "fleet",
        start=FLEET_START,
        hours=7,
        runs_per_minute=20,
        seed=23,
        incidents=[
            ("behaviour_drift", "3h", "45m"),
            ("traffic_surge", "4h30m", "30m"),
            ("cost_inflation", "5h30m", "45m"),
        ],
    )
    home = Home(root / "home").ensure()
    config = config_with(root)
    land_paths([truth.dumps], home, config, settle_seconds=0)
    build(home, config, full_refresh=True)
    return home, config, truth
