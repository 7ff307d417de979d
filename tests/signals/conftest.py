"""Fleets shared by the shipped-signal tests (session-scoped: each is built once).

- ``incident_fleet``: 9 h at 12 runs/min, each incident placed explicitly after a 3 h
  healthy warm-up, one at a time, with the traffic surge (a control) last.
- ``healthy_fleet``: 6 h at 25 runs/min with no incident, another seed and traffic level.
"""

from __future__ import annotations

import pytest
from signalfleets import BuiltFleet, build_fleet


@pytest.fixture(scope="session")
def incident_fleet(tmp_path_factory: pytest.TempPathFactory) -> BuiltFleet:
    return build_fleet(
        tmp_path_factory.mktemp("incident-fleet"),
        hours=9,
        runs_per_minute=12,
        seed=5,
        incidents=[
            ("cost_inflation", "3h", "60m"),
            ("silent_loops", "4h20m", "60m"),
            ("tool_failure", "5h40m", "40m"),
            ("stuck_runs", "6h40m", "30m"),
            ("traffic_surge", "7h50m", "45m"),
        ],
    )


@pytest.fixture(scope="session")
def healthy_fleet(tmp_path_factory: pytest.TempPathFactory) -> BuiltFleet:
    return build_fleet(
        tmp_path_factory.mktemp("healthy-fleet"),
        hours=6,
        runs_per_minute=25,
        seed=23,
        incidents=[],
    )
