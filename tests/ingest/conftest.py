"""Fixtures for the ingest tests: a config from YAML text, and land_paths into the test home."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fleetsignals.config import load_config
from fleetsignals.home import Home
from fleetsignals.ingest.land import IngestSummary, land_paths


@pytest.fixture
def config(tmp_path: Path) -> Callable[..., Any]:
    """A Config from a YAML text (or the defaults)."""

    def make(text: str = "") -> Any:
        path = tmp_path / "fleetsignals.yml"
        path.write_text(text)
        return load_config(path)

    return make


@pytest.fixture
def land(home: Home, config: Callable[..., Any]) -> Callable[..., IngestSummary]:
    """land_paths into the test home, with an optional config YAML."""

    def run(*paths: Path, config_text: str = "") -> IngestSummary:
        return land_paths(list(paths), home, config(config_text))

    return run
