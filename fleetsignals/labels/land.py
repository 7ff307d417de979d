"""Landing label files in the lake: ``land_label_paths``, the one entry point (CLI, scheduler, demo).

Per file, as ingest does with trace files (``ingest/land.py``): hash the content; skip it if
the labels manifest has that hash; parse it; write its rows to one Parquet file named after
the hash (``lake/labels/dt=<landing day>/<sha[:32]>.parquet``: a temporary file, fsynced,
renamed); append the manifest line last. A killed run leaves a temporary file (never read:
readers glob ``*.parquet``) or a complete file the next run overwrites. Rows that are not
labels go to HOME/quarantine/ with the reason, the rest land; a file with nothing but
problems, or that cannot be decoded, is quarantined whole.

A label counts from the moment it landed (``landed_at``), not from the time the producer
says it was given: a backtest at T sees the labels that had landed by T, as a live
evaluation at T did. A label for a run the lake does not hold yet is kept; it joins when
the run lands.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.files import commit_file, fsync_dir, locked
from fleetsignals.home import Home
from fleetsignals.ingest.manifest import manifest_index
from fleetsignals.ingest.progress import Progress
from fleetsignals.ingest.quarantine import Quarantine
from fleetsignals.ingest.settings import IngestSettings
from fleetsignals.ingest.sources import SourceError, discover, read_decompressed, sha256_file
from fleetsignals.labels.records import LABEL_SCHEMA, parse_labels
from fleetsignals.timeutil import format_time, parse_duration, parse_time

MAX_FILE_BYTES = 512 << 20  # label files are read whole; split bigger exports


@dataclass
class LabelSummary:
    """What one ``land_label_paths`` call did."""

    files: int = 0
    labels: int = 0
    skipped: int = 0  # files whose content had landed (or been quarantined) before
    quarantined: int = 0  # files with anything quarantined
    rejected: int = 0  # rows set aside
    seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)  # quarantine sidecars, relative to HOME

    def line(self) -> str:
        text = (
            f"label: {self.files} file(s) landed, {self.labels} label(s); "
            f"{self.skipped} already landed (skipped); {self.quarantined} quarantined"
        )
        if self.rejected:
            text += f" ({self.rejected} row(s) rejected)"
        return text + f" in {self.seconds:.1f}s"


def land_label_paths(
    paths: list[Path],
    home: Home,
    config: Config,
    progress: bool = False,
    landed_at: datetime | None = None,
) -> LabelSummary:
    """Land label files (directories are walked recursively) in HOME's lake.

    ``landed_at``: the landing time to record (default now). Only for replaying label
    exports whose arrival times are known (backfills, benchmarks): it is when the labels
    count from, so it may not lie in the future.
    """
    started = time.perf_counter()
    now = parse_time("now")
    if landed_at is not None and landed_at > now:
        raise FleetsignalsError(f"--landed-at {format_time(landed_at)} is in the future")
    for path in paths:
        if not Path(path).exists():
            raise FleetsignalsError(f"no such file or directory: {path}")
    files = [f for f in discover(Path(p) for p in paths) if not home.wrote(f)]
    bound = IngestSettings.from_config(config).limits.times.max_future
    max_future = parse_duration(bound) if bound else None
    summary = LabelSummary()
    home.ensure()
    home.labels.mkdir(parents=True, exist_ok=True)
    show = progress and sys.stderr.isatty()
    with (
        locked(home.labels.parent / ".labels.lock"),
        Progress(len(files), enabled=show, stage="label", unit="labels") as meter,
    ):
        for stale in home.labels.glob("dt=*/.*.tmp-*"):
            stale.unlink(missing_ok=True)  # left by a killed run (we hold the lock)
        index = manifest_index(home.labels_manifest)
        for path in files:
            try:
                sha = sha256_file(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise FleetsignalsError(f"cannot read {path}: {exc.strerror}") from None
            if sha in index.by_sha:
                summary.skipped += 1
                meter.file_done(0)
                continue
            entry = _land_file(path, sha, home, landed_at or now, max_future, summary)
            index.append([entry])
            meter.file_done(entry.get("labels", 0))
    summary.seconds = time.perf_counter() - started
    return summary


def _land_file(
    path: Path,
    sha: str,
    home: Home,
    landed_at: datetime,
    max_future: timedelta | None,
    summary: LabelSummary,
) -> dict:
    """Land one file; returns its manifest entry."""
    quarantine = Quarantine(home.quarantine, path, sha)
    entry = {"sha256": sha, "source": str(path), "landed_at": format_time(landed_at)}
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SourceError(f"over {MAX_FILE_BYTES >> 20} MiB: split the label export")
        table, problems = parse_labels(read_decompressed(path), sha, landed_at, max_future)
    except SourceError as exc:
        return _whole(quarantine, entry, str(exc), summary)
    quarantine.add(problems)
    if table.num_rows == 0:
        first = problems[0] if problems else None
        error = (
            f"no label landed; first problem at line {first.line}: {first.error}"
            if first
            else "no label in the file"
        )
        return _whole(quarantine, entry, error, summary)
    directory = home.labels / f"dt={landed_at:%Y-%m-%d}"
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{sha[:32]}.parquet"
    tmp = directory / f".{final.name}.tmp-{os.getpid()}"
    pq.write_table(table.cast(LABEL_SCHEMA), tmp, compression="zstd")
    commit_file(tmp, final)
    fsync_dir(directory)
    fsync_dir(home.labels)
    entry.update(
        status="landed",
        labels=table.num_rows,
        rejected=len(problems),
        files=[final.relative_to(home.labels).as_posix()],
        quarantine=quarantine.finish(),
    )
    summary.files += 1
    summary.labels += table.num_rows
    if entry["quarantine"]:
        summary.quarantined += 1
        summary.rejected += len(problems)
        summary.reasons.append(f"quarantine/{entry['quarantine']}")
    return entry


def _whole(quarantine: Quarantine, entry: dict, error: str, summary: LabelSummary) -> dict:
    reason = quarantine.whole_file(error)
    entry.update(status="quarantined", labels=0, error=error, files=[], quarantine=reason)
    summary.quarantined += 1
    summary.rejected += quarantine.count
    summary.reasons.append(f"quarantine/{reason}")
    return entry
