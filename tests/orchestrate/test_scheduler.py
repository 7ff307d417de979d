"""`fleetsignals run` for real: a subprocess with short intervals on a real inbox, real ingest
and dbt builds; files dropped while it runs turn into alerts; SIGTERM stops it cleanly; a
restart resumes from persisted state."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from fleetsignals.generate import generate_fleet
from tests.fixtures.alertfixtures import write_signal

# Fires once the warehouse holds at least $min_runs finished runs (as of $eval_at).
ENOUGH_RUNS = """
select 'fleet' as scope, count(*) as value
from fct_runs
where ended_at <= $eval_at
having count(*) >= $min_runs
"""


def wait_for(check: Callable[[], bool], what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 240
    while not check():
        if process.poll() is not None:
            pytest.fail(f"`fleetsignals run` exited ({process.returncode}) before {what}:\n"
                        + (log.read_text() if log.exists() else ""))  # fmt: skip
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out waiting for {what}:\n" + (log.read_text() if log.exists() else "")
            )
        time.sleep(0.5)


def drop(files: list[Path], inbox: Path) -> None:
    """Copy files into the inbox the way a Collector would: write aside, then rename."""
    for path in files:
        tmp = inbox / f".{path.name}.part"
        shutil.copyfile(path, tmp)
        tmp.rename(inbox / path.name)


def start_run(home, config: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("fleetsignals")
    return subprocess.Popen(
        [str(exe), "--home", str(home.root), "--config", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[2],  # the dbt project lives at the repo root
        env={**os.environ},
    )


def cycles(log: Path) -> int:
    return log.read_text().count("cycle: build") if log.exists() else 0


@pytest.mark.slow
def test_run_ingests_builds_alerts_and_stops_cleanly(home, tmp_path: Path, signal_dir: Path):
    now = datetime.utcnow().replace(second=0, microsecond=0)
    fleet = tmp_path / "fleet"
    generate_fleet(fleet, start=now - timedelta(minutes=31), hours=0.5, runs_per_minute=4,
                   seed=3, incidents=[])  # fmt: skip
    dumps = sorted((fleet / "dumps").iterdir())
    first, second = dumps[: len(dumps) // 2], dumps[len(dumps) // 2 :]
    runs = pq.read_table(fleet / "runs.parquet", columns=["ended_at"]).column(0).to_pylist()
    split = now - timedelta(minutes=31) + timedelta(minutes=len(first))
    early = sum(1 for ended in runs if ended is not None and ended < split)
    threshold = (early + len(runs)) // 2
    assert early < threshold < len(runs)
    write_signal(signal_dir, "enough_runs", ENOUGH_RUNS,
                 {"every": "1s", "params": {"min_runs": threshold}})  # fmt: skip
    inbox, sink = tmp_path / "inbox", tmp_path / "notifications.jsonl"
    inbox.mkdir()
    config = tmp_path / "fleetsignals.yml"
    config.write_text(yaml.safe_dump({
        "signal_dirs": [str(signal_dir)],
        "scheduler": {"inbox": str(inbox), "ingest_every": "1s", "build_every": "2s",
                      "retain_every": "3s", "settle": "0s"},
        "notify": [{"type": "file", "path": str(sink)}],
    }))  # fmt: skip
    log = home.logs / "run.log"

    process = start_run(home, config)
    try:
        drop(first, inbox)
        wait_for(lambda: "cycle: build" in (log.read_text() if log.exists() else ""),
                 "a first build and evaluation", process, log)  # fmt: skip
        assert not sink.exists()  # not enough runs yet: nothing fired
        drop(second, inbox)
        wait_for(sink.exists, "the alert in the file sink", process, log)
        (note,) = [json.loads(line) for line in sink.read_text().splitlines()]
        assert (note["notification"], note["signal"], note["labels"]) == (
            "firing",
            "enough_runs",
            {"scope": "fleet"},
        )
        assert note["value"] >= threshold
        wait_for(lambda: "retain: " in log.read_text(), "a retention pass", process, log)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert "SIGTERM received" in text and "stopped cleanly" in text
    assert "ingest: " in text and "spans landed" in text

    # A restart resumes from persisted state: the alert is still firing, not new again.
    done = cycles(log)
    process = start_run(home, config)
    try:
        wait_for(lambda: cycles(log) > done, "a cycle after the restart", process, log)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert len(sink.read_text().splitlines()) == 1
