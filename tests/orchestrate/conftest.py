"""Fixtures for the orchestration tests (the scheduler and the demo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsignals.home import Home
from tests.fixtures.alertfixtures import publish_snapshot


@pytest.fixture
def snapshot(home: Home) -> Path:
    """A published snapshot with the alert tests' synthetic fct_runs."""
    return publish_snapshot(home)


@pytest.fixture
def signal_dir(tmp_path: Path) -> Path:
    path = tmp_path / "signals"
    path.mkdir()
    return path
