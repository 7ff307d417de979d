"""`retain` rewriting partitions while real ingest processes land into them, or die doing so.

Afterwards every source ingest landed has its spans in the lake exactly once: as many
rows carrying its hash as its manifest line counts, and no (trace_id, span_id) twice.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from fleetsignals.config import load_config
from fleetsignals.home import Home
from fleetsignals.ingest.batches import BATCHES
from fleetsignals.ingest.lake import ROW_GROUP_ROWS, TMP_MARK
from fleetsignals.ingest.land import land_paths
from fleetsignals.ingest.manifest import read_manifest
from fleetsignals.retention import retain, rewrite
from tests.fixtures.crashes import pause_at
from tests.fixtures.ingest_inputs import synthetic_lines, write
from tests.fixtures.retention_lakes import publish_runs, spans, write_file

DRIVER = Path(__file__).with_name("land_loop_driver.py")
REPO = DRIVER.parents[2]
BATCH_DRIVER = REPO / "tests" / "ingest" / "batch_driver.py"  # dies mid-batch
EXE = Path(sys.executable).with_name("fleetsignals")
# The driver's spans start 2026-09-21 14:13 and cover 3 h 20 min: all closed at AT.
AT = datetime(2026, 10, 1)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Home, Path]:
    """A home whose snapshot knows some runs of another day (retain needs one), and a config."""
    home = Home(tmp_path / "home").ensure()
    hour = datetime(2026, 9, 23, 3)  # after the driver's hours: rewritten last
    write_file(home.lake, hour, spans(list(range(40)), hour.replace(minute=30)), "seed")
    publish_runs(home.root)
    config = tmp_path / "fleetsignals.yml"
    config.write_text(yaml.safe_dump({"retention": {"reevaluate_signals": False}}))
    return home, config


def start_landing(home: Home, inbox: Path, stop: Path, *kill: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), str(home.root), str(inbox), str(stop), *kill],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )


def retain_process(home: Home, config: Path) -> subprocess.CompletedProcess[str]:
    args = ["--home", str(home.root), "--config", str(config), "retain", "--at", AT.isoformat()]
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, cwd=REPO, timeout=300)


def rewritten(output: str) -> int:
    line = next(x for x in output.splitlines() if "partitions rewritten:" in x)
    return int(line.split("partitions rewritten:")[1].split()[0])


def assert_each_source_once(home: Home, inputs: list[Path]) -> None:
    """Every input file has one manifest line, and exactly its spans are in the lake."""
    entries = read_manifest(home.manifest)
    assert sorted(e["source"] for e in entries) == sorted(str(p.resolve()) for p in inputs), (
        "an input has no manifest line, or more than one"
    )
    assert {e["status"] for e in entries} == {"landed"} and all(e["spans"] for e in entries)
    files = [str(p) for p in home.lake.glob("dt=*/hr=*/*.parquet")]
    with duckdb.connect() as con:
        con.execute(
            "create table rows as select source_sha256, trace_id, span_id "
            "from read_parquet($files, hive_partitioning = false) "
            "where source_sha256 in (select unnest($shas))",
            {"files": files, "shas": [e["sha256"] for e in entries]},
        )
        per_source = dict(
            con.execute("select source_sha256, count(*) from rows group by all").fetchall()
        )
        twice = con.execute(
            "select count(*) - count(distinct (trace_id, span_id)) from rows"
        ).fetchone()[0]
    assert per_source == {e["sha256"]: e["spans"] for e in entries}, (
        "a source's spans lost or twice"
    )
    assert twice == 0, "a span is in the lake twice"
    assert not list((home.lake.parent / BATCHES).glob("*.json")), "a batch was left unresolved"


def rounds(inbox: Path) -> list[Path]:
    """The files the loop driver wrote."""
    return sorted(inbox.glob("round-*/*.jsonl"))


@pytest.mark.slow
def test_retain_beside_a_landing_ingest(setup, tmp_path: Path) -> None:
    home, config = setup
    inbox, stop = tmp_path / "inbox", tmp_path / "stop"
    lander = start_landing(home, inbox, stop)
    overlapped = 0  # retain runs that compacted while the lander kept landing
    for _ in range(8):
        done = retain_process(home, config)
        assert done.returncode == 0, done.stderr
        assert lander.poll() is None, lander.stderr.read()
        overlapped += rewritten(done.stdout) > 0
        if overlapped >= 3:
            break
    stop.touch()
    _, err = lander.communicate(timeout=300)
    assert lander.returncode == 0, err
    assert overlapped >= 3
    assert len(list(inbox.glob("round-*"))) > 6
    assert_each_source_once(home, rounds(inbox))
    # The lake is the same for readers after a last, quiet retain.
    retain(home, load_config(config), AT)
    assert_each_source_once(home, rounds(inbox))


def unrecorded(home: Home) -> tuple[int, int]:
    """Batch intents left, and lake files named like ingest's that no manifest line names."""
    named = {f for e in read_manifest(home.manifest) for f in e.get("files", [])}
    files = [
        p.relative_to(home.lake).as_posix()
        for p in home.lake.glob("dt=*/hr=*/*.parquet")
        if len(p.stem) == 32
    ]
    intents = len(list((home.lake.parent / BATCHES).glob("*.json")))
    return intents, len([f for f in files if f not in named])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["batch", "torn", "single", "any time"])
def test_ingest_killed_while_publishing_then_retain_then_ingest_again(
    setup, tmp_path: Path, kind: str
) -> None:
    home, config_path = setup
    config = load_config(config_path)
    inbox, stop = tmp_path / "inbox", tmp_path / "stop"
    rnd = random.Random(kind)
    for _ in range(3):
        if kind == "any time":  # once it writes a new round, within a few rounds
            written = len(rounds(inbox))
            lander = start_landing(home, inbox, stop)
            deadline = time.monotonic() + 120
            while len(rounds(inbox)) == written and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rnd.uniform(0.0, 2.0))
            lander.send_signal(signal.SIGKILL)
        else:  # in a random round's manifest append, its files published
            lander = start_landing(home, inbox, stop, f"{kind}:{rnd.randint(1, 3)}")
        lander.communicate(timeout=300)
        assert lander.returncode == -signal.SIGKILL
        intents, files = unrecorded(home)
        if kind != "any time":  # what the kill left for retain to leave out or undo
            assert (intents > 0, files > 0) == (kind != "single", kind != "torn")
        retain(home, config, AT)
        land_paths([inbox], home, config, settle_seconds=0)
        assert_each_source_once(home, rounds(inbox))


def wait_for(flag: Path) -> None:
    deadline = time.monotonic() + 120
    while not flag.exists():
        assert time.monotonic() < deadline, "retain did not reach its step"
        time.sleep(0.01)


def land_two_files(home: Home, config, folder: Path) -> list[Path]:
    """Two recorded files in one partition, so that retain compacts it."""
    paths = []
    for i in range(2):
        data, _ = synthetic_lines(100, seed=900 + i)
        paths.append(write(folder / f"f{i}.jsonl", data))
        land_paths([paths[-1]], home, config, settle_seconds=0)
    return paths


@pytest.mark.slow
def test_a_batch_that_died_during_a_rewrite_is_resolved_after_the_swap(
    setup, tmp_path: Path, monkeypatch
) -> None:
    # Retain (a thread here) chooses its inputs; then a batch is published into the
    # partition and its run dies with half its lines written; retain swaps, and a rerun of
    # the batch's sources starts. The publish lock holds the rerun until the swap has put
    # the dead batch's file back: resolved before, by name, the file would be missed (in
    # the old directory), then put back whole: the unrecorded half's spans twice.
    home, config_path = setup
    config = load_config(config_path)
    before = land_two_files(home, config, tmp_path / "before")
    inbox = tmp_path / "inbox"
    for i in range(6):
        data, _ = synthetic_lines(100, seed=950 + i)
        write(inbox / f"part-{i}.jsonl", data)
    flag = tmp_path / "paused"
    monkeypatch.setattr(rewrite, "crash_point", pause_at("staged,swapped", flag))
    with ThreadPoolExecutor(1) as pool:
        retained = pool.submit(retain, home, config, AT)
        wait_for(flag)  # inputs chosen: the two recorded files
        torn = [sys.executable, str(BATCH_DRIVER), "torn", str(home.root), str(inbox)]
        assert subprocess.run(torn, cwd=REPO, check=False).returncode == -signal.SIGKILL
        flag.unlink()
        wait_for(flag)  # swapped: the dead batch's file sits in the old directory
        rerun = subprocess.Popen(
            [str(EXE), "--home", str(home.root), "ingest", str(inbox)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with suppress(subprocess.TimeoutExpired):
            rerun.wait(20)  # the time a rerun needs, were it not held
        flag.unlink()
        assert retained.result(timeout=300).partitions_rewritten >= 1
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert_each_source_once(home, [*before, *sorted(inbox.iterdir())])


@pytest.mark.slow
def test_a_large_file_being_written_during_a_swap_still_lands(
    setup, tmp_path: Path, monkeypatch
) -> None:
    # A large source's temporary file is opened while it is parsed, before ingest takes
    # the publish lock; the swap moves it into the old directory and must put it back.
    home, config_path = setup
    config = load_config(config_path)
    before = land_two_files(home, config, tmp_path / "before")
    part = home.lake / "dt=2026-09-21" / "hr=14"  # the small files' and the large one's
    data, _ = synthetic_lines(3 * ROW_GROUP_ROWS)  # flushed to its temporary while parsed
    large = write(tmp_path / "large" / "big.jsonl", data)
    flag = tmp_path / "paused"
    monkeypatch.setattr(rewrite, "crash_point", pause_at("staged", flag))
    with ThreadPoolExecutor(1) as pool:
        retained = pool.submit(retain, home, config, AT)
        wait_for(flag)
        landing = subprocess.Popen(
            [str(EXE), "--home", str(home.root), "ingest", str(large)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not any(TMP_MARK in p.name for p in part.iterdir()):
                assert landing.poll() is None, landing.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.005)
        finally:
            flag.unlink()  # swap while the temporary is being written
        assert retained.result(timeout=300).partitions_rewritten >= 1
    _, err = landing.communicate(timeout=300)
    assert landing.returncode == 0, err
    assert_each_source_once(home, [*before, large])
