"""Headless Chromium for the report tests: render a page, read its status and console."""

from __future__ import annotations

import html
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
    # Any host lookup fails: the report must need no network at all.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--enable-logging=stderr",
    "--v=0",
]
_STATUS = re.compile(r'<pre id="report-status"[^>]*>(.*?)</pre>', re.S)
_DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


@dataclass
class Rendered:
    status: dict[str, Any]  # what report.js wrote into #report-status
    console: list[str]  # console messages Chromium logged (report.js logs none)
    dom: str


def run_chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One headless Chromium with a fresh profile; killed after 90 s."""
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def render(chromium: str, page: Path, work: Path) -> Rendered:
    """Load the page, let it run (virtual time), and read the DOM and the console log."""
    done = run_chromium(
        chromium,
        work / "profile-dom",
        "--window-size=1400,1000",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.resolve().as_uri(),
    )
    found = _STATUS.search(done.stdout)
    assert found, f"no #report-status in the DOM (exit {done.returncode}): {done.stderr[-2000:]}"
    text = html.unescape(found.group(1))
    assert text, "report.js never wrote its status: the script did not run to the end"
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(json.loads(text), console, done.stdout)


def screenshot(chromium: str, page: Path, png: Path, work: Path, height: int = 5000) -> Path:
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    run_chromium(
        chromium,
        work / "profile-shot",
        f"--window-size=1400,{height}",
        "--virtual-time-budget=10000",
        "--hide-scrollbars",
        f"--screenshot={png}",
        page.resolve().as_uri(),
    )
    assert png.is_file() and png.stat().st_size > 10_000, f"no screenshot at {png}"
    return png


def chart_specs(page: Path) -> dict[str, dict[str, Any]]:
    """The chart specs embedded in the page, as report.js reads them."""
    found = _DATA.search(page.read_text(encoding="utf-8"))
    assert found
    return json.loads(found.group(1))["charts"]
