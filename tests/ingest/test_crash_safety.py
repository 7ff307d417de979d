"""A real `fleetsignals ingest` killed with SIGKILL leaves a valid lake; a rerun lands exactly the rest."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from fleetsignals.ingest.manifest import read_manifest
from tests.fixtures.ingest_inputs import REPO, synthetic_lines, write

EXE = str(Path(sys.executable).with_name("fleetsignals"))
DRIVER = Path(__file__).with_name("ingest_driver.py")
HOUR = 3_600_000_000_000


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> tuple[Path, set]:
    """Six files, one of them large and spread over several hours (so several partitions)."""
    root = tmp_path_factory.mktemp("inbox")
    ids: set = set()
    for i in range(6):
        n = 60_000 if i == 2 else 15_000
        step = 250_000_000 if i == 2 else 1_000_000  # the large file spans about four hours
        data, file_ids = synthetic_lines(n, seed=100 + i, step_ns=step)
        write(root / f"traces-{i}.jsonl", data)
        ids |= file_ids
    return root, ids


def lake_state(home_root: Path) -> tuple[int, int]:
    """(rows, distinct span keys) read by DuckDB over every visible Parquet file."""
    lake = home_root / "lake" / "spans"
    if not list(lake.glob("dt=*/hr=*/*.parquet")):
        return 0, 0
    with duckdb.connect() as con:
        return con.execute(
            "select count(*), count(distinct (trace_id, span_id))"
            " from read_parquet(?, hive_partitioning = true)",
            [str(lake / "**" / "*.parquet")],
        ).fetchone()


def start(home_root: Path, *paths: Path, config: Path | None = None, **kwargs) -> subprocess.Popen:
    options = ["--config", str(config)] if config else []
    return subprocess.Popen(
        [EXE, "--home", str(home_root), *options, "ingest", *map(str, paths)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


@pytest.mark.slow
def test_killed_ingest_leaves_valid_lake_and_rerun_completes(inbox, tmp_path) -> None:
    root, expected = inbox
    home_root = tmp_path / "home"
    manifest = home_root / "lake" / "manifest.jsonl"
    # First kill: right after the first source landed, so the run is surely mid-way.
    process = start(home_root, root)
    while process.poll() is None and not (manifest.exists() and manifest.read_bytes()):
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 1 <= len(read_manifest(manifest)) < 6
    for delay in (0.5, 1.5, 3.0):
        process = start(home_root, root)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        rows, distinct = lake_state(home_root)
        assert rows == distinct, "the lake holds a duplicate span after a kill"
        # Every source the manifest calls landed is in the lake, whole.
        landed = sum(e["spans"] for e in read_manifest(manifest))
        assert rows >= landed
    done = subprocess.run(
        [EXE, "--home", str(home_root), "ingest", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    rows, distinct = lake_state(home_root)
    assert rows == distinct == len(expected)
    with duckdb.connect() as con:
        got = set(
            con.execute(
                "select trace_id, span_id from read_parquet(?)",
                [str(home_root / "lake" / "spans" / "**" / "*.parquet")],
            ).fetchall()
        )
    assert got == expected
    assert not [p for p in (home_root / "lake").rglob("*") if ".tmp-" in p.name]
    assert len(read_manifest(home_root / "lake" / "manifest.jsonl")) == 6


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(c) for c in handle.read().split()]
    except FileNotFoundError:
        return []


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("processes", [False, True], ids=["in-process", "worker-processes"])
def test_killed_while_writing_one_file(inbox, tmp_path, processes) -> None:
    root, _ = inbox
    big = root / "traces-2.jsonl"
    home_root = tmp_path / "home"
    config = tmp_path / "fleetsignals.yml"
    config.write_text(f"ingest: {{processes_from_mib: {0 if processes else 100000}}}\n")
    flag = tmp_path / "writing"
    # The driver holds the run still once its temporary Parquet files are open (see there).
    process = subprocess.Popen(
        [sys.executable, str(DRIVER), str(flag), "--home", str(home_root)]
        + ["--config", str(config), "ingest", str(big)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not flag.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None and flag.exists(), "the run ended before writing its files"
    lake = home_root / "lake" / "spans"
    temporaries = [p for p in lake.glob("dt=*/hr=*/.*") if ".tmp-" in p.name]
    workers = children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert len(temporaries) >= 2  # the large file spans several hours: one file per partition
    assert bool(workers) == processes
    assert not list(lake.glob("dt=*/hr=*/*.parquet")), "a file was renamed into place early"
    deadline = time.monotonic() + 30
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(w) for w in workers), "a parsing worker outlived its killed parent"
    assert lake_state(home_root) == (0, 0)  # nothing half-made is visible
    done = subprocess.run(
        [EXE, "--home", str(home_root), "--config", str(config), "ingest", str(big)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert lake_state(home_root) == (60_000, 60_000)
    assert not [p for p in lake.rglob("*") if ".tmp-" in p.name]


def test_progress_quiet_in_pipes(inbox, tmp_path) -> None:
    root, _ = inbox
    done = subprocess.run(
        [EXE, "--home", str(tmp_path / "home"), "ingest", str(root / "traces-2.jsonl")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    assert done.stderr == ""
    assert done.stdout.count("\n") == 1 and "60000 span(s)" in done.stdout


@pytest.mark.slow
def test_progress_on_a_terminal(inbox, tmp_path) -> None:
    root, _ = inbox
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [EXE, "--home", str(tmp_path / "home"), "ingest", str(root)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            block = os.read(leader, 4096)
        except OSError:
            break
        if not block:
            break
        seen += block
    process.wait()
    os.close(leader)
    assert process.returncode == 0
    assert b"spans/s" in seen and b"files/s" in seen and b"\r" in seen
