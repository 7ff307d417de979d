"""Fixtures for alert tests (helpers live in alertfixtures.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from fleetsignals.cli import cli
from fleetsignals.config import Config, load_config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from tests.fixtures.alertfixtures import publish_snapshot
from tests.fixtures.alertmanagers import running_alertmanager


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """The URL of a real Alertmanager, stopped after the test."""
    with running_alertmanager(tmp_path) as url:
        yield url


@pytest.fixture
def snapshot(home: Home) -> Path:
    return publish_snapshot(home)


@pytest.fixture
def signal_dir(tmp_path: Path) -> Path:
    path = tmp_path / "signals"
    path.mkdir()
    return path


@pytest.fixture
def make_config(tmp_path: Path, signal_dir: Path) -> Callable[..., tuple[Path, Config]]:
    """Write fleetsignals.yml (signal_dirs = the test's signal dir) and load it."""

    def make(**sections: Any) -> tuple[Path, Config]:
        data: dict[str, Any] = {"signal_dirs": [str(signal_dir)], **sections}
        path = tmp_path / "fleetsignals.yml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return path, load_config(path)

    return make


@pytest.fixture
def run_cli(home: Home) -> Callable[..., Result]:
    """Like the shared run_cli, but a FleetsignalsError ends the command as in `main()`:
    exit status 1, its message in ``result.exception``; other exceptions still propagate."""

    def run(*args: str, config: Path | None = None) -> Result:
        base = ["--home", str(home.root)]
        if config is not None:
            base += ["--config", str(config)]
        result = CliRunner().invoke(cli, [*base, *args], catch_exceptions=True)
        if result.exception is not None and not isinstance(
            result.exception, FleetsignalsError | SystemExit
        ):
            raise result.exception
        return result

    return run
