"""`fleetsignals report` as a user runs it: a real process, its output and its errors."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.fixtures.reportfleet import REPO, Fleet

EXE = str(Path(sys.executable).with_name("fleetsignals"))


def run(home: Path, config: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    base = [EXE, "--home", str(home)] + (["--config", str(config)] if config else [])
    return subprocess.run(
        [*base, "report", *args], capture_output=True, text=True, cwd=REPO, env=os.environ.copy()
    )


def test_no_snapshot_says_run_build(tmp_path: Path) -> None:
    done = run(tmp_path / "home", None, "--out", str(tmp_path / "r.html"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: no warehouse snapshot under {tmp_path / 'home'}: run `fleetsignals build` first"
    ]
    assert not (tmp_path / "r.html").exists()


def test_writes_the_report_and_prints_its_path(fleet: Fleet, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "dir" / "report.html"
    start = "2026-11-01T00:00:00Z"
    done = run(fleet.home.root, fleet.root / "fleetsignals.yml", "--start", start,
               "--end", "2026-11-01T00:30:00Z", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    assert done.stderr == ""  # progress only on a terminal
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "2026-11-01T00:30:00Z" in text
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temp file left


def test_bad_input_is_one_line(fleet: Fleet, tmp_path: Path) -> None:
    config = fleet.root / "fleetsignals.yml"
    cases = {
        ("--start", "2026-11-01T02:00:00Z", "--end", "2026-11-01T01:00:00Z"): "is not after",
        ("--start", "yesterday"): "invalid time 'yesterday'",
    }
    for args, message in cases.items():
        done = run(fleet.home.root, config, *args, "--out", str(tmp_path / "r.html"))
        assert done.returncode == 1, args
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines
    done = run(fleet.home.root, config, "--out", str(tmp_path))
    assert done.returncode != 0 and "directory" in done.stderr


def test_help_describes_the_sections() -> None:
    done = subprocess.run([EXE, "report", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for word in ("self-contained", "--start", "--end", "--out", "24 hours", "build"):
        assert word in done.stdout


def test_progress_on_a_terminal(fleet: Fleet, tmp_path: Path) -> None:
    primary, secondary = pty.openpty()
    try:
        done = subprocess.run(
            [EXE, "--home", str(fleet.home.root), "--config", str(fleet.root / "fleetsignals.yml"),
             "report", "--start", "2026-11-01T00:00:00Z", "--end", "2026-11-01T00:30:00Z",
             "--out", str(tmp_path / "r.html")],
            stdout=subprocess.PIPE, stderr=secondary, text=True, cwd=REPO,
        )  # fmt: skip
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
    assert done.returncode == 0
    text = shown.decode()
    assert "report: 2026-11-01T00:00:00Z .. 2026-11-01T00:30:00Z: querying" in text
    assert "backtest: step 7/7" in text and "report: wrote" in text
