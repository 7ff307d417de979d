"""A fresh scheduler: nothing in the lake yet is INFO, not an ERROR; files waiting for their
settle time are landed as soon as they settle, and the first build follows the first spans
instead of the next build_every. The Runner's jobs run on a real home and inbox, with real
ingest; ``wake`` records what it asks the scheduler to run early."""

from __future__ import annotations

import logging
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.config import load_config
from fleetsignals.orchestrate.scheduler import Runner
from tests.fixtures.alertfixtures import COSTLY_SETTINGS, COSTLY_SQL, T0, Receiver, write_signal

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "otlp-samples"
SAMPLE = SAMPLES / "otel-proto_examples_trace.json"


@pytest.fixture
def runner(home, tmp_path: Path) -> Runner:
    config = tmp_path / "fleetsignals.yml"
    config.write_text(yaml.safe_dump({
        "signal_dirs": [str(tmp_path / "signals")],
        "scheduler": {"inbox": str(tmp_path / "inbox"), "settle": "30s"},
    }))  # fmt: skip
    (tmp_path / "signals").mkdir()
    (tmp_path / "inbox").mkdir()
    made = Runner(home, load_config(config))
    made.woken = []
    made.wake = lambda job, delay: made.woken.append((job, delay))
    return made


def test_an_empty_lake_is_info_not_an_error(runner, caplog) -> None:
    shutil.copy(SAMPLE, runner.settings.inbox / "a.json")  # just written: still settling
    with caplog.at_level(logging.INFO):
        runner.ingest()
        runner.cycle()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "the lake has no spans yet; 1 inbox files settling" in caplog.text


def test_settling_files_wake_ingest_when_they_settle(runner) -> None:
    path = runner.settings.inbox / "a.json"
    shutil.copy(SAMPLE, path)
    written = time.time() - 20  # settles 10s from now
    os.utime(path, (written, written))
    assert runner.inbox_files() == []
    ((job, delay),) = runner.woken
    assert job == "ingest" and timedelta(seconds=9) < delay < timedelta(seconds=11)
    # Once something is built, ingest keeps its own pace (ingest_every).
    runner.woken.clear()
    runner.home.snapshots.mkdir(parents=True, exist_ok=True)
    (runner.home.snapshots / "CURRENT").write_text("x", encoding="utf-8")
    assert runner.inbox_files() == [] and runner.woken == []


def test_first_spans_landed_wake_the_build(runner, home) -> None:
    path = runner.settings.inbox / "a.json"
    shutil.copy(SAMPLE, path)
    os.utime(path, (time.time() - 60, time.time() - 60))
    runner.ingest()
    assert ("cycle", timedelta(0)) in runner.woken
    # Once a snapshot exists, landing more does not build out of turn.
    runner.woken.clear()
    home.snapshots.mkdir(parents=True, exist_ok=True)
    (home.snapshots / "CURRENT").write_text("x", encoding="utf-8")
    other = runner.settings.inbox / "b.json"
    trace = "5B8EFFF798038103D269B633813FC60C"
    other.write_text(SAMPLE.read_text().replace(trace, trace[:-1] + "D"), encoding="utf-8")
    os.utime(other, (time.time() - 60, time.time() - 60))
    runner.ingest()
    assert ("cycle", timedelta(0)) not in runner.woken


def test_the_ingest_job_retries_due_deliveries(home, tmp_path: Path, snapshot, signal_dir) -> None:
    """A backoff of seconds means the next ingest (every minute), not the next build."""
    write_signal(signal_dir, "costly", COSTLY_SQL, COSTLY_SETTINGS)
    receiver = Receiver()
    try:
        config = tmp_path / "fleetsignals.yml"
        config.write_text(yaml.safe_dump({
            "signal_dirs": [str(signal_dir)],
            "scheduler": {"inbox": str(tmp_path / "inbox")},
            "notify": [{"type": "webhook", "url": receiver.url}],
            "alerts": {"retry_initial": "0s"},
        }))  # fmt: skip
        loaded = load_config(config)
        receiver.refuse_with = 503
        evaluate_live(home, loaded, T0 + timedelta(minutes=250))
        assert receiver.refused == 1 and receiver.bodies == []
        receiver.refuse_with = None
        Runner(home, loaded).ingest()  # an empty inbox: nothing to land, still delivers
        assert [b["status"] for b in receiver.bodies] == ["firing"]
    finally:
        receiver.close()


def test_label_files_in_inbox_labels_land_as_labels_and_traces_as_spans(runner, home) -> None:
    labels = runner.settings.inbox / "labels"
    labels.mkdir()
    (labels / "judge.csv").write_text(
        "run_id,name,label,source\n"
        "5b8efff798038103d269b633813fc60c,helpfulness,bad,judge:gpt-4o\n"
        "not-a-run-id,helpfulness,bad,judge:gpt-4o\n",
        encoding="utf-8",
    )
    shutil.copy(SAMPLE, runner.settings.inbox / "a.json")
    for path in (labels / "judge.csv", runner.settings.inbox / "a.json"):
        os.utime(path, (time.time() - 60, time.time() - 60))
    runner.ingest()
    con = duckdb.connect()
    landed = con.execute(
        "select run_id, name, label from read_parquet(?)", [str(home.labels / "*" / "*.parquet")]
    ).fetchall()
    assert landed == [("5b8efff798038103d269b633813fc60c", "helpfulness", "bad")]
    assert list(home.quarantine.glob("*judge.csv*")), "the bad row is set aside with its reason"
    spans = con.execute(
        "select count(*) from read_parquet(?)", [str(home.lake / "**" / "*.parquet")]
    )
    assert spans.fetchone()[0] > 0
    sources = [line for line in home.manifest.read_text(encoding="utf-8").splitlines()]
    assert not any("judge.csv" in line for line in sources), "a label file is not a trace file"
    # Landed once: the next pass offers neither file again.
    assert runner.inbox_files() == []
