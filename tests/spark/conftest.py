"""One small fleet built on DuckDB and on Spark, once per test session (Spark takes
seconds to start on two cores, and lives as long as the process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsignals.home import Home
from fleetsignals.warehouse import build
from tests.fixtures.lakefiles import config_with
from tests.fixtures.synthetic import write_synthetic_lake
from tests.fixtures.warehouses import START


@pytest.fixture(scope="session")
def built_on_both(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home whose lake (two hours, about 3 % failed runs, 5 % failed tool calls) is built
    on DuckDB (the snapshot) and on Spark (Parquet under HOME/spark/warehouse)."""
    root: Path = tmp_path_factory.mktemp("spark-parity")
    home = Home(root / "home").ensure()
    write_synthetic_lake(home.lake, start=START, hours=2, runs_per_minute=3, seed=7)
    config = config_with(root)
    build(home, config, full_refresh=True, run_tests=False)
    build(home, config, engine="spark")
    return home
