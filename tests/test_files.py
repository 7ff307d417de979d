"""fleetsignals.files: the one home of atomic writes, fsync, durable appends and locks."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from fleetsignals.errors import FleetsignalsError
from fleetsignals.files import acquire_lock, append_durably, locked, write_atomic

ROOT = Path(__file__).resolve().parents[1]


def test_write_atomic_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    write_atomic(path, "new", sync_dir=True)
    write_atomic(path, b"newer")
    assert path.read_bytes() == b"newer"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    tmp = tmp_path / ".state.json.tmp"
    tmp.write_text("a killed writer's leftovers")
    with pytest.raises(FileExistsError):
        write_atomic(path, "new", tmp=tmp, exclusive=True)
    assert path.read_text() == "old"
    assert not tmp.exists()


def test_mode_is_set_whatever_the_umask(tmp_path: Path) -> None:
    before = os.umask(0o077)
    try:
        write_atomic(tmp_path / "report.html", "x", durable=False, mode=0o644)
    finally:
        os.umask(before)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644


def test_append_durably_appends(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    append_durably(path, b"a\n")
    append_durably(path, b"b\n")
    assert path.read_bytes() == b"a\nb\n"


def test_a_held_lock_is_busy_for_a_second_holder(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with (
        locked(path, busy="busy: wait"),
        pytest.raises(FleetsignalsError, match="busy: wait"),
        locked(path, busy="busy: wait"),
    ):
        pass
    with locked(path, busy="busy: wait"):  # released on exit
        pass


def test_a_waiter_on_a_removed_lock_file_takes_the_fresh_one(tmp_path: Path) -> None:
    # Claims are removed by their last holder; whoever waited on the removed file must
    # end up holding the file now at that path, or two holders would both "own" it.
    path = tmp_path / "claim"
    first = acquire_lock(path, wait=True)
    assert first is not None
    assert acquire_lock(path, wait=False) is None  # held (also against this process)
    got = []
    waiter = threading.Thread(target=lambda: got.append(acquire_lock(path, wait=True)))
    waiter.start()
    time.sleep(0.3)  # the waiter blocks on the file about to be removed
    first.release(remove=True)
    waiter.join(timeout=10)
    assert got and got[0] is not None
    assert path.exists() and acquire_lock(path, wait=False) is None
    got[0].release()
    again = acquire_lock(path, wait=False)
    assert again is not None
    again.release(remove=True)
    assert acquire_lock(path, wait=False, create=False) is None  # gone: not recreated


def test_no_stage_writes_durably_on_its_own() -> None:
    # fsync and flock live in fleetsignals/files.py only (one helper per concern).
    offenders = []
    for folder in ("fleetsignals", "ingest", "alerts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if path.name != "files.py" and ("os.fsync(" in text or "fcntl.flock(" in text):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
