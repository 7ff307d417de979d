"""Fleets shared by the shipped-signal tests (session-scoped: each is built once).

- ``incident_fleet``: 10 h at 20 runs/min, each incident placed explicitly after a 4 h
  healthy warm-up (the cost baseline needs hours of history), one at a time, with the
  traffic surge (a control) last. Seed 2 draws a cost inflation of x2.06, mid-range of
  the generator's x1.6 to x2.5; at x1.6 a cohort's P95 rises by only about the 30 % the
  signal requires, so detection there is slower (docs/shipped-signals.md).
- ``healthy_fleet``: 5 h at 12 runs/min with no incident, another seed and traffic level.
- ``tenant_fleet``: 7 h at 40 runs/min with 300 Zipf-sized tenants and a x2 cost jump in
  the largest tenant (14 % of the runs) of the busiest agent (23 %), about 80 runs an
  hour, after 4 h. (The smallest tenants a jump can be found in are the bench's:
  bench/detection.py.)
- ``zipf_healthy_fleet``: 5 h at 20 runs/min with 400 Zipf-sized tenants, no incident.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from tests.fixtures.signalfleets import BuiltFleet, build_fleet
from tests.fixtures.signaltables import tables


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory database with empty fct_runs, fct_tool_calls and fct_llm_calls."""
    yield from tables()


@pytest.fixture(scope="session")
def incident_fleet(tmp_path_factory: pytest.TempPathFactory) -> BuiltFleet:
    return build_fleet(
        tmp_path_factory.mktemp("incident-fleet"),
        hours=10,
        runs_per_minute=20,
        seed=2,
        incidents=[
            ("cost_inflation", "4h", "75m"),
            ("silent_loops", "5h30m", "60m"),
            ("tool_failure", "6h50m", "40m"),
            ("stuck_runs", "7h50m", "30m"),
            ("traffic_surge", "8h50m", "45m"),
        ],
    )


@pytest.fixture(scope="session")
def healthy_fleet(tmp_path_factory: pytest.TempPathFactory) -> BuiltFleet:
    return build_fleet(
        tmp_path_factory.mktemp("healthy-fleet"),
        hours=5,
        runs_per_minute=12,
        seed=23,
        incidents=[],
    )


@pytest.fixture(scope="session")
def tenant_fleet(tmp_path_factory: pytest.TempPathFactory) -> BuiltFleet:
    return build_fleet(
        tmp_path_factory.mktemp("tenant-fleet"),
        hours=7,
        runs_per_minute=40,
        seed=2,
        tenants=300,
        incidents=[
            (
                "tenant_cost_jump",
                "4h",
                "90m",
                {"agent_name": "research_assistant", "cost_factor": 2.0, "min_share": 0.1},
            )
        ],  # fmt: skip
    )


@pytest.fixture(scope="session")
def zipf_healthy_fleet(tmp_path_factory: pytest.TempPathFactory) -> BuiltFleet:
    return build_fleet(
        tmp_path_factory.mktemp("zipf-healthy-fleet"),
        hours=5,
        runs_per_minute=20,
        seed=29,
        tenants=400,
        incidents=[],
    )
