"""Small source files landed together: one Parquet file per partition per batch.

Writing, fsyncing and renaming a Parquet file per small source dominated the ingest
of many small files, so a batch's sources share their files, named after the batch
(``<batch id>.parquet``, a random 32-hex id); each row's ``source_sha256`` says whose it
is, and each source keeps its own manifest line (naming the files holding its rows).

A source counts as landed only once its manifest line is on disk, as for a file landed
alone. So that a run killed between publishing a batch's files and appending its lines
leaves no rows of unrecorded sources behind (they would be landed again by the next run:
duplicates), an intent record ``lake/.batches/<batch id>.json`` (the files and sources)
is written durably before the files are renamed into place, and removed once the lines
are appended. The batch id is claimed (``ingest/claims.py``) while the batch is under
way, so an intent whose claim can be taken belongs to a run that died: ``resolve_dead``
then removes from the batch's files every row whose source has no manifest line naming
that file (rewriting a file atomically, or removing it), and drops the intent. Every
ingest run resolves dead intents before it publishes anything, so a source re-landed
after a crash is never in the lake twice.

A source landed alone by a run killed before its line leaves ``<stem>.parquet``, which a
rerun landing it alone overwrites; a rerun landing it in a batch removes it first
(``drop_unrecorded_alone``), as its rows go under the batch's name.

Retention rewrites partitions (``fleetsignals/retention/rewrite.py``) while ingest may be
landing, so both take the lake-wide publish lock ``lake/.publish.lock`` (``publishing``):
ingest SHARED (runs land side by side) from closing its files (touched by name from
then on) until its manifest lines are appended and its intent removed; retention
EXCLUSIVE while choosing a partition's inputs and while swapping it. Under the exclusive
lock every intent present is a dead run's, resolved first, so a dead batch's
unrecorded rows are never among the inputs; and no ingest renames, rewrites or removes a
file by name between the swap and retention moving back what is not its input.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fleetsignals.files import HeldLock, commit_file, fsync_dir, locked, write_atomic
from fleetsignals.ingest.claims import claim, stem_of
from fleetsignals.ingest.lake import ROW_GROUP_ROWS, TMP_MARK
from fleetsignals.ingest.manifest import ManifestIndex
from fleetsignals.ingest.schema import SPAN_SCHEMA

BATCHES = ".batches"
PUBLISH_LOCK = ".publish.lock"


@contextmanager
def publishing(lake_root: Path, *, exclusive: bool = False) -> Iterator[None]:
    """Hold the lake's publish lock: shared (ingest publishing and recording) or
    exclusive (retention rewriting a partition). A killed holder's lock is released."""
    lake_root.mkdir(parents=True, exist_ok=True)
    with locked(lake_root / PUBLISH_LOCK, shared=not exclusive):
        yield


def new_batch(lake_root: Path) -> tuple[str, HeldLock]:
    """A fresh batch id and its claim, held until the batch's lines are written."""
    batch_id = uuid.uuid4().hex
    held = claim(lake_root, batch_id, wait=True)
    assert held is not None  # a new name, waited for
    return batch_id, held


def write_intent(lake_root: Path, batch_id: str, files: list[str], shas: list[str]) -> Path:
    """Record durably, before publishing, which files the batch is about to put in place."""
    directory = lake_root / BATCHES
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{batch_id}.json"
    write_atomic(path, orjson.dumps({"files": files, "sources": shas}), sync_dir=True)
    return path


def drop_unrecorded_alone(lake: Path, entries: list[dict]) -> None:
    """Remove the files a killed run landing one of these sources alone left beside where
    the batch puts its rows (``<stem>.parquet``, overwritten only by a rerun landing it
    alone): unrecorded, they would hold the source's spans a second time."""
    for entry in entries:
        for name in entry.get("files", []):
            stale = (lake / name).with_name(f"{stem_of(entry['sha256'])}.parquet")
            if stale.exists():
                stale.unlink()
                fsync_dir(stale.parent)


def resolve_dead(lake_root: Path, lake: Path, index: ManifestIndex) -> int:
    """Undo what dead runs' batches published without recording; returns how many."""
    directory = lake_root / BATCHES
    if not directory.is_dir():
        return 0
    resolved = 0
    for path in sorted(directory.glob("*.json")):
        held = claim(lake_root, path.stem, wait=False)
        if held is None:
            continue  # a live run's batch
        try:
            if not path.exists():
                continue  # resolved (or finished) by another run meanwhile
            intent = orjson.loads(path.read_bytes())
            index.refresh()
            for name in intent["files"]:
                _keep_recorded(lake / name, name, intent["sources"], index)
            path.unlink()
            fsync_dir(directory)
            resolved += 1
        finally:
            held.release(remove=True)
    return resolved


def _keep_recorded(file: Path, name: str, shas: list[str], index: ManifestIndex) -> None:
    """Keep only the rows of sources whose manifest line names this file."""
    if not file.exists():
        return  # never published (its temporary is swept with the dead run's)
    keep = [
        sha
        for sha in shas
        if index.by_sha.get(sha, {}).get("status") == "landed"
        and name in index.by_sha[sha].get("files", [])
    ]
    if len(keep) == len(shas):
        return
    if not keep:
        file.unlink()
        fsync_dir(file.parent)
        return
    table = pq.read_table(file, schema=SPAN_SCHEMA)
    table = table.filter(pc.is_in(table["source_sha256"], pa.array(keep, pa.string())))
    tmp = file.with_name(f".{file.name}{TMP_MARK}{os.getpid()}")  # swept if we die
    pq.write_table(
        table, tmp, compression="zstd", write_statistics=True, row_group_size=ROW_GROUP_ROWS
    )
    commit_file(tmp, file, sync_dir=True)
