"""Fixtures shared by every test package: a fresh data home and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fleetsignals.cli import cli
from fleetsignals.home import Home

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """An empty data home in a temporary directory."""
    return Home(tmp_path / "home").ensure()


@pytest.fixture
def run_cli(home: Home) -> Callable[..., Result]:
    """Invoke `fleetsignals --home HOME ARGS...` in-process; returns click's Result."""

    def run(*args: str, config: Path | None = None) -> Result:
        base = ["--home", str(home.root)]
        if config is not None:
            base += ["--config", str(config)]
        return CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)

    return run


@pytest.fixture
def run_process(home: Home) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed `fleetsignals` console script in a real subprocess."""

    def run(*args: str, check: bool = False, **kwargs) -> subprocess.CompletedProcess[str]:
        exe = Path(sys.executable).with_name("fleetsignals")
        return subprocess.run(
            [str(exe), "--home", str(home.root), *args],
            capture_output=True,
            text=True,
            check=check,
            cwd=REPO,
            env={**os.environ, **kwargs.pop("env", {})},
            **kwargs,
        )

    return run
