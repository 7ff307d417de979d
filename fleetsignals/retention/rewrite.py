"""Crash-safe rewrite of one lake partition: prune spans, compact files, swap atomically.

A partition is one directory ``lake/spans/dt=D/hr=H``. Readers glob the lake at
any moment, so they must see a partition whole, old or new, never both (that
would duplicate spans) and never neither. The rewrite therefore:

1. writes an intent journal ``lake/_retention/journal/<id>.json`` (the inputs,
   the staged directory and its inode), atomically;
2. stages the new directory ``lake/_retention/stage/<id>/`` holding the compacted
   file (sorted by trace, row groups sized for DuckDB), fsynced;
3. swaps the two directories in one ``renameat2(RENAME_EXCHANGE)`` call: the
   only step readers can observe, and it is atomic;
4. moves back everything in the old directory that is not an input: files ingest
   landed meanwhile, and the temporary files a live ingest is still writing (their
   open handles follow them; ingest renames them into place by name later);
5. moves the old directory to ``lake/_retention/trash/`` (deleted after a delay,
   so a crash or a bad policy can be undone by hand), then drops the journal.

Steps 3-5 run under ``swap_lock`` (the lake's publish lock, held exclusively: no ingest
touches a file of the lake by name between the exchange and the moving back).

``recover`` finishes or undoes every journal left by a killed run: if the
partition is the staged inode, the swap happened (roll forward: steps 4-5);
else nothing a reader sees changed (roll back: drop the stage). Either way no
span is lost or duplicated. Where the kernel or filesystem lacks
RENAME_EXCHANGE (not Linux), step 3 becomes rename-into-place then move the
inputs out, with a short window in which readers may see both; see
docs/retention.md.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from fleetsignals.files import fsync_dir, fsync_file, write_atomic

# DuckDB parallelises scans by row group; its own row groups hold 122,880 rows.
ROW_GROUP_ROWS = 122_880
OUTPUT_PREFIX = "retained-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def crash_point(step: str) -> None:
    """Marks a step of the retention (a no-op).

    Steps: archived, decided (job.py), journaled, staged, swapped, restored, trashed
    (here). The crash tests' drivers replace this function to SIGKILL the process or to
    hold it at a step (tests/fixtures/crashes.py); the product itself does nothing here.
    """


@dataclass(frozen=True)
class Workspace:
    """The retention's private directories, beside the span lake (same filesystem)."""

    root: Path  # HOME/lake/_retention

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    @property
    def stage(self) -> Path:
        return self.root / "stage"

    @property
    def trash(self) -> Path:
        return self.root / "trash"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def ensure(self) -> Workspace:
        for path in (self.journal, self.stage, self.trash, self.tmp):
            path.mkdir(parents=True, exist_ok=True)
        return self


@dataclass(frozen=True)
class Rewrite:
    """What one partition rewrite did."""

    partition: str
    rows_in: int
    rows_out: int
    bytes_in: int
    bytes_out: int
    output: str | None


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories; False when the platform cannot (then nothing changed)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def span_files(partition: Path) -> list[str]:
    """Landed span files of a partition (ingest's in-flight temp files start with a dot)."""
    try:
        names = os.listdir(partition)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.endswith(".parquet") and not n.startswith((".", "_")))


def rewrite_id(partition: str, inputs: list[str], pruned_digest: str) -> str:
    """Deterministic, so a rerun of the same rewrite names the same output."""
    text = "\n".join([partition, pruned_digest, *inputs])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _copy_compacted(con: duckdb.DuckDBPyConnection, files: list[Path], target: Path) -> int:
    """Write the inputs' spans minus pruned runs to ``target``; returns the rows written."""
    sources = [str(f) for f in files]
    # Sorted by trace, so a run's spans sit together and min/max stats skip row groups.
    result = con.sql(
        "select s.* from read_parquet($files, hive_partitioning = false, union_by_name = true) as s "
        "where not exists (select 1 from pruned as p where p.run_id = s.trace_id) "
        "order by s.trace_id, s.start_ns, s.span_id",
        params={"files": sources},
    )
    reader = result.to_arrow_reader(ROW_GROUP_ROWS)
    rows = 0
    with pq.ParquetWriter(target, reader.schema, compression="zstd") as writer:
        for batch in reader:
            if batch.num_rows:
                writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                rows += batch.num_rows
    fsync_file(target)
    return rows


def rewrite_partition(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    partition: Path,
    inputs: list[str],
    pruned_digest: str,
    work: Workspace,
    swap_lock: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> Rewrite:
    """Replace ``inputs`` of ``partition`` by one compacted file without ``pruned`` runs.

    ``con`` must hold a table ``pruned(run_id)``; ``swap_lock`` is held from the swap on
    (steps 3-5). Safe to kill at any point (see module doc).
    """
    relative = partition.relative_to(lake).as_posix()
    rid = rewrite_id(relative, inputs, pruned_digest)
    paths = [partition / n for n in inputs]
    rows_in = sum(pq.read_metadata(p).num_rows for p in paths)
    bytes_in = sum(p.stat().st_size for p in paths)
    stage = work.stage / rid
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    output = f"{OUTPUT_PREFIX}{rid}.parquet"
    entry = {
        "id": rid,
        "partition": relative,
        "inputs": inputs,
        "output": output,
        "stage_inode": stage.stat().st_ino,
        "started_at": _utcnow().isoformat(),
    }
    write_atomic(work.journal / f"{rid}.json", json.dumps(entry, indent=1), sync_dir=True)
    crash_point("journaled")
    tmp = stage / f".{output}.tmp"
    rows_out = _copy_compacted(con, paths, tmp)
    if rows_out:
        os.replace(tmp, stage / output)
    else:
        tmp.unlink()  # every span was pruned: the partition becomes an empty directory
    fsync_dir(stage)
    crash_point("staged")
    with swap_lock():
        if exchange(partition, stage):
            fsync_dir(partition.parent)
            crash_point("swapped")
            _finish_swap(lake, entry, work)
        else:
            _swap_by_files(lake, entry, work)
    bytes_out = (partition / output).stat().st_size if rows_out else 0
    return Rewrite(relative, rows_in, rows_out, bytes_in, bytes_out, output if rows_out else None)


def _finish_swap(lake: Path, entry: dict, work: Workspace) -> None:
    """After the exchange: the old directory sits at the stage path. Idempotent."""
    partition = lake / entry["partition"]
    old = work.stage / entry["id"]
    if old.is_dir():
        # Files ingest landed while we compacted, and the temporaries it is writing, are
        # not in our inputs: put them back.
        for name in sorted(os.listdir(old)):
            if name not in entry["inputs"]:
                os.replace(old / name, partition / name)
        fsync_dir(partition)
        crash_point("restored")
        os.replace(old, work.trash / f"{_stamp()}-{entry['id']}")
        fsync_dir(work.trash)
    crash_point("trashed")
    (work.journal / f"{entry['id']}.json").unlink(missing_ok=True)


def _swap_by_files(lake: Path, entry: dict, work: Workspace) -> None:
    """Fallback without RENAME_EXCHANGE: rename the output in, then move the inputs out."""
    partition = lake / entry["partition"]
    stage = work.stage / entry["id"]
    if (stage / entry["output"]).exists():
        os.replace(stage / entry["output"], partition / entry["output"])
        fsync_dir(partition)
    crash_point("swapped")
    _roll_forward_files(lake, entry, work)


def _roll_forward_files(lake: Path, entry: dict, work: Workspace) -> None:
    partition = lake / entry["partition"]
    trash = work.trash / f"{_stamp()}-{entry['id']}"
    trash.mkdir(parents=True, exist_ok=True)
    for name in entry["inputs"]:
        if (partition / name).exists():
            os.replace(partition / name, trash / name)
    fsync_dir(partition)
    shutil.rmtree(work.stage / entry["id"], ignore_errors=True)
    (work.journal / f"{entry['id']}.json").unlink(missing_ok=True)


def recover(lake: Path, work: Workspace) -> int:
    """Finish or undo the rewrites a killed run left; returns how many journals it settled."""
    settled = 0
    for path in sorted(work.journal.glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        partition = lake / entry["partition"]
        stage = work.stage / entry["id"]
        swapped = partition.is_dir() and partition.stat().st_ino == entry["stage_inode"]
        if swapped:
            _finish_swap(lake, entry, work)
        elif (partition / entry["output"]).exists() and entry["output"] not in entry["inputs"]:
            _roll_forward_files(lake, entry, work)  # the fallback had renamed its output in
        else:
            shutil.rmtree(stage, ignore_errors=True)  # readers never saw it: roll back
            path.unlink(missing_ok=True)
        settled += 1
    for leftover in work.stage.iterdir() if work.stage.is_dir() else ():
        if not (work.journal / f"{leftover.name}.json").exists():
            shutil.rmtree(leftover, ignore_errors=True)  # staged before its journal was written
    return settled


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _stamp(moment: datetime | None = None) -> str:
    return (moment or _utcnow()).strftime("%Y%m%dT%H%M%S")


def purge_trash(work: Workspace, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete replaced partitions moved to the trash more than ``older_than`` ago."""
    now = now or _utcnow()
    purged = 0
    for entry in work.trash.iterdir() if work.trash.is_dir() else ():
        try:
            moved = datetime.strptime(entry.name.split("-", 1)[0], "%Y%m%dT%H%M%S")
        except ValueError:
            continue
        if now - moved >= older_than:
            shutil.rmtree(entry, ignore_errors=True)
            purged += 1
    return purged
