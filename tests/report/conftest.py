"""Fixtures of the report tests: one built fleet per session and headless Chromium."""

from __future__ import annotations

import shutil

import pytest
from reportfleet import Fleet, build_report_fleet


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return build_report_fleet(tmp_path_factory.mktemp("report-fleet"))


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
