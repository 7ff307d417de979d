"""A generated fleet shared by the generator tests (session-scoped: generated once)."""

from __future__ import annotations

from datetime import datetime

import pytest

from fleetsignals.generate import GroundTruth, generate_fleet
from tests.fixtures.dump_reader import Dump, read_dump

START = datetime(2026, 11, 1)


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    """Six hours, every incident, a modest rate: big enough for every effect to show."""
    out = tmp_path_factory.mktemp("fleet")
    return generate_fleet(out, start=START, hours=6, runs_per_minute=12, seed=11)


@pytest.fixture(scope="session")
def dump(fleet: GroundTruth) -> Dump:
    return read_dump(fleet.dumps)
