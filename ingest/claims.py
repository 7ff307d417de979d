"""Several ingest processes landing into one lake at once: claims and run markers.

A source's content hash is claimed (an exclusive lock on ``lake/.claims/<stem>``, the
stem its Parquet files are named after) from before its manifest check until its
manifest line is written, so two processes never land the same content: the second one
finds the claim held, lands its other files first, then waits for the claim and finds
the manifest line. A killed holder's locks are released by the kernel, so its claims
are free again at once (stale-claim recovery needs no timeout).

Each run also holds a lock on its own marker in ``lake/.ingest-runs/``. A marker whose
lock can be taken belongs to a run that died: its temporary files are swept, each one
only under the claim of its stem, so the temporaries of live runs are never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fleetsignals.files import HeldLock, acquire_lock
from fleetsignals.ingest.lake import TMP_MARK

CLAIMS = ".claims"
RUNS = ".ingest-runs"
LEGACY_MARKER = ".ingest-running"  # a single-writer version's marker of a run under way


def stem_of(sha256: str) -> str:
    """The name a source's Parquet files (and its claim) carry."""
    return sha256[:32]


def claim(lake_root: Path, sha256: str, *, wait: bool) -> HeldLock | None:
    """Claim a source's content for landing; None if another run holds it (``wait`` false)."""
    directory = lake_root / CLAIMS
    directory.mkdir(parents=True, exist_ok=True)
    return acquire_lock(directory / stem_of(sha256), wait=wait)


def sweep_dead_runs(lake_root: Path, lake: Path) -> int:
    """Remove the temporary files of runs that died; returns how many were removed."""
    dead: list[HeldLock] = []
    for marker in sorted((lake_root / RUNS).glob("*.run")):
        held = acquire_lock(marker, wait=False, create=False)
        if held is not None:
            dead.append(held)
    legacy = lake_root / LEGACY_MARKER
    if not dead and not legacy.exists():
        return 0
    removed = _remove_unclaimed_temporaries(lake_root, lake)
    legacy.unlink(missing_ok=True)
    for held in dead:
        held.release(remove=True)
    return removed


def _remove_unclaimed_temporaries(lake_root: Path, lake: Path) -> int:
    removed = 0
    if not lake.is_dir():
        return 0
    for path in lake.glob("dt=*/hr=*/.*"):
        if TMP_MARK not in path.name:
            continue
        stem = path.name[1:].split(".", 1)[0]
        held = acquire_lock(lake_root / CLAIMS / stem, wait=False)
        if held is None:
            continue  # a live run is landing that source: its file
        try:
            path.unlink(missing_ok=True)
            removed += 1
        finally:
            held.release(remove=True)
    return removed


@contextmanager
def ingest_run(lake_root: Path, lake: Path) -> Iterator[None]:
    """Mark a run as alive for its duration; sweep dead runs' temporaries at both ends
    (at the end too, since a run that died while this one waited for its claim left its
    temporaries behind)."""
    runs = lake_root / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    (lake_root / CLAIMS).mkdir(parents=True, exist_ok=True)
    mine = acquire_lock(runs / f"{uuid.uuid4().hex}.run", wait=True)
    assert mine is not None  # a new name, waited for
    try:
        sweep_dead_runs(lake_root, lake)
        yield
        sweep_dead_runs(lake_root, lake)
    finally:
        mine.release(remove=True)
