"""Small files landed together: a kill mid-batch, a bad file among many, one source again."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from fleetsignals.home import Home
from fleetsignals.ingest.batches import BATCHES
from fleetsignals.ingest.manifest import read_manifest
from tests.fixtures.ingest_inputs import gz, lake_rows, synthetic_lines, write

DRIVER = Path(__file__).with_name("batch_driver.py")
SOURCES = 12


@pytest.fixture
def inbox(tmp_path: Path) -> tuple[Path, set]:
    """Small files of a few hundred spans each, all in one batch."""
    ids: set = set()
    for i in range(SOURCES):
        data, file_ids = synthetic_lines(200, seed=500 + i)
        write(tmp_path / "inbox" / f"part-{i:02}.jsonl", data)
        ids |= file_ids
    return tmp_path / "inbox", ids


def span_keys(home: Home) -> list[tuple[str, str]]:
    return [(r["trace_id"], r["span_id"]) for r in lake_rows(home)]


def rows_per_file(home: Home) -> dict[str, int]:
    with duckdb.connect() as con:
        return {
            p.relative_to(home.lake).as_posix(): con.execute(
                "select count(*) from read_parquet(?)", [str(p)]
            ).fetchone()[0]
            for p in home.lake.glob("dt=*/hr=*/*.parquet")
        }


def killed_mid_batch(mode: str, home: Home, inbox: Path, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(DRIVER), mode, str(home.root), str(inbox)], cwd=cwd, check=False
    )
    assert done.returncode == -signal.SIGKILL


@pytest.mark.parametrize("mode", ["unrecorded", "torn"])
def test_kill_after_publishing_a_batch(inbox, tmp_path, home, land, mode) -> None:
    root, expected = inbox
    killed_mid_batch(mode, home, root, tmp_path)
    recorded = read_manifest(home.manifest)
    assert len(recorded) == (SOURCES // 2 if mode == "torn" else 0)
    # The dead run's batch file is visible, holding every source's rows.
    assert sum(rows_per_file(home).values()) == 200 * SOURCES
    assert list((home.lake.parent / BATCHES).glob("*.json"))

    summary = land(root)

    assert (summary.files, summary.skipped) == (SOURCES - len(recorded), len(recorded))
    keys = span_keys(home)
    assert len(keys) == len(set(keys)) and set(keys) == expected  # nothing lost, nothing twice
    entries = read_manifest(home.manifest)
    assert sorted(e["source"] for e in entries) == sorted(str(p) for p in root.iterdir())
    counts = rows_per_file(home)
    for entry in entries:  # every source's files exist, and only recorded rows are left
        assert entry["files"] and all(f in counts for f in entry["files"])
    assert not list((home.lake.parent / BATCHES).glob("*.json"))
    dead = {f for e in recorded for f in e["files"]}
    assert sum(counts[f] for f in dead) == 200 * len(recorded)


def test_one_bad_file_among_many(inbox, home, land) -> None:
    root, expected = inbox
    good, _ = synthetic_lines(200, seed=999)
    write(root / "part-05-truncated.jsonl", good[: len(good) // 2])  # cut mid-record
    write(root / "part-06-truncated.jsonl.gz", gz(good)[:-30])  # cut mid-stream

    summary = land(root)

    assert (summary.files, summary.quarantined) == (SOURCES + 1, 2)
    by_name = {Path(e["source"]).name: e for e in read_manifest(home.manifest)}
    assert by_name["part-06-truncated.jsonl.gz"]["status"] == "quarantined"
    assert by_name["part-05-truncated.jsonl"]["rejected"] == 1
    assert expected <= set(span_keys(home))
    good_files = {tuple(e["files"]) for n, e in by_name.items() if n.startswith("part-0")}
    assert len(good_files) <= 2  # the good sources share the batch's file


def test_reingest_of_one_source_is_skipped(inbox, tmp_path, home, land) -> None:
    root, expected = inbox
    land(root)
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(root / "part-03.jsonl", again / "copy.jsonl")
    changed, more = synthetic_lines(200, seed=777)
    write(again / "new.jsonl", changed)

    summary = land(again)
    assert (summary.files, summary.skipped) == (1, 1)
    keys = span_keys(home)
    assert len(keys) == len(set(keys)) and set(keys) == expected | more
    assert len(read_manifest(home.manifest)) == SOURCES + 1
