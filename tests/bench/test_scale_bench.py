"""bench/scale.py at its quick size: a real fleet, DuckDB cycle, both full refreshes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.spark]

STAGES = {
    "DuckDB cycle": ["ingest", "build: dbt", "build: publish", "evaluate"],
    "DuckDB full refresh": ["dbt", "publish"],
    "Spark full refresh": [
        "session start",
        "dbt nodes on Spark",
        "dbt: parse, hooks, per-node overhead",
        "publish: readers' models on DuckDB",
        "publish: fct_runs export, linking",
    ],
}
NUMBER = r"([0-9][0-9,]*(?:\.[0-9]+)?|-)"
ROW = re.compile(
    rf"^\| (?P<engine>[^|]+) \| (?P<stage>[^|]+) \| {NUMBER} \| {NUMBER} \| {NUMBER} \| "
    r"(?P<rate>[0-9,]*) \|$"
)


def number(text: str) -> float:
    return float(text.replace(",", ""))


def test_quick_prints_every_stage_with_real_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "scale.py"), "--quick"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = [m for m in map(ROW.match, done.stdout.splitlines()) if m]
    stages = {engine: [r["stage"] for r in rows if r["engine"] == engine] for engine in STAGES}
    assert stages == {engine: [*names, "**total**"] for engine, names in STAGES.items()}
    for row in rows:
        wall, cpu, peak = row.group(3, 4, 5)
        assert number(wall) > 0, row.string
        if row["stage"] == "**total**":
            # CPU and memory of the stage's process tree, and a rate of spans.
            assert number(cpu) > 0 and number(peak) > 100, row.string
            assert number(row["rate"]) > 0, row.string
    assert "Spark has no incremental build yet" in done.stdout
    assert re.search(r"slowest models, Spark \(s, one thread\): int_\w+ [0-9.]+", done.stdout)
