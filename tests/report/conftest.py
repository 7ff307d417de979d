"""Fixtures of the report tests: one built fleet per session and headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fleetsignals.report import write_report
from tests.fixtures.reportfleet import Fleet, build_report_fleet


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return build_report_fleet(tmp_path_factory.mktemp("report-fleet"))


@pytest.fixture(scope="session")
def full_report(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the whole fleet (default window), written once."""
    return write_report(
        fleet.home, fleet.config, tmp_path_factory.mktemp("full-report") / "report.html"
    )


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "chromium is not installed: the report tests render in headless Chromium. "
            "Install it with `make services` (scripts/install-services.sh, Debian package "
            "`chromium`)."
        )
    return found
