"""Fixtures for the warehouse tests: real lakes (Parquet), real dbt builds, real snapshots.

Builds cost seconds each, so homes that several tests only read are built once per
module or session; tests that change a home make their own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fleetsignals.home import Home
from fleetsignals.warehouse import build
from tests.fixtures.lakefiles import config_with
from tests.fixtures.synthetic import write_synthetic_lake
from tests.fixtures.warehouses import START


@pytest.fixture
def make_home(tmp_path: Path) -> Callable[[str], Home]:
    def make(name: str = "home") -> Home:
        return Home(tmp_path / name).ensure()

    return make


@pytest.fixture(scope="session")
def synthetic_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """Two hours of a synthetic fleet (10 runs/min), fully built once with dbt tests."""
    root = tmp_path_factory.mktemp("synthetic")
    home = Home(root / "home").ensure()
    write_synthetic_lake(home.lake, start=START, hours=2, runs_per_minute=10, seed=3)
    build(home, config_with(root), full_refresh=True)
    return home


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, Path]:
    """A generated fleet (OTLP dumps) ingested and built; returns (home, runs.parquet)."""
    from fleetsignals.generate import generate_fleet
    from fleetsignals.ingest.land import land_paths

    root = tmp_path_factory.mktemp("fleet")
    out = root / "fleet"
    generate_fleet(out, hours=1.5, runs_per_minute=4, seed=5, incidents=["stuck_runs"])
    home = Home(root / "home").ensure()
    config = config_with(root)
    land_paths([out / "dumps"], home, config, settle_seconds=0)
    build(home, config, full_refresh=True)
    return home, out / "runs.parquet"
