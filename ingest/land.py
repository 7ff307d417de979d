"""Landing source files in the lake: the one entry point (``land_paths``) for CLI, scheduler, demo.

Per source file: hash its content; skip it if the manifest already has that
hash; otherwise stream it through the parser into per-partition temporary
files, rename them into place, and append the manifest line last. A run killed
at any point leaves only temporary files (swept by the next run) or complete
files named after the source hash (overwritten by the next run, which lands the
source again because its manifest line is missing). So the lake never shows a
partial file, and a rerun lands exactly what is missing.

Runs of small files (up to 1 MiB each, 16 MiB together) are parsed with one
query (``ingest/batch.py``) and then committed file by file, as above.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.files import locked
from fleetsignals.home import Home
from fleetsignals.ingest.batch import BATCH_BYTES, SMALL_FILE_BYTES, parse_together
from fleetsignals.ingest.lake import LakeWriter, remove_temporaries, sync_dirs_of
from fleetsignals.ingest.limits import screen_spans
from fleetsignals.ingest.manifest import ManifestIndex, manifest_index
from fleetsignals.ingest.parse import SpanParser
from fleetsignals.ingest.pipeline import land_chunks
from fleetsignals.ingest.progress import Progress
from fleetsignals.ingest.quarantine import Quarantine
from fleetsignals.ingest.settings import IngestSettings
from fleetsignals.ingest.sources import Chunk, SourceError, discover, read_chunks, sha256_file
from fleetsignals.ingest.workers import InlineParser, ParserPool
from fleetsignals.timeutil import format_time, parse_time


@dataclass
class IngestSummary:
    """What one ``land_paths`` call did."""

    files: int = 0  # files landed by this call (some of their records may be quarantined)
    skipped: int = 0  # files whose content had already landed before
    quarantined_before: int = 0  # files whose content was quarantined whole before (not retried)
    spans: int = 0  # spans landed
    quarantined: int = 0  # files with anything quarantined (whole, or some records/spans)
    rejected: int = 0  # records and spans quarantined
    cut: int = 0  # spans landed cut by the attribute limits (kept whole in the quarantine)
    unsettled: int = 0  # files left for later: changed while read, or modified too recently
    seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)  # quarantine sidecars, relative to HOME
    reasons_before: list[str] = field(default_factory=list)  # sidecars of quarantined_before

    def line(self) -> str:
        text = (
            f"ingest: {self.files} file(s) landed, {self.spans} span(s); "
            f"{self.skipped} already landed (skipped); {self.quarantined} quarantined"
        )
        if self.quarantined_before:
            text += f"; {self.quarantined_before} quarantined before (skipped)"
        if self.rejected:
            text += f" ({self.rejected} record(s)/span(s) rejected)"
        if self.cut:
            text += f"; {self.cut} span(s) landed with attributes cut (whole in quarantine)"
        if self.unsettled:
            text += f"; {self.unsettled} still being written (left for the next run)"
        return text + f" in {self.seconds:.1f}s"


@contextmanager
def _ingest_lock(home: Home) -> Iterator[None]:
    """One ingest at a time per home; a killed holder's lock is released by the kernel."""
    lake_root = home.lake.parent
    lake_root.mkdir(parents=True, exist_ok=True)
    with locked(lake_root / ".ingest.lock"):
        marker = lake_root / ".ingest-running"
        if marker.exists():  # the previous run died: sweep its temporary files
            remove_temporaries(home.lake)
        marker.touch()
        try:
            yield
        finally:
            marker.unlink(missing_ok=True)


def _stat_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path), stat.st_size, stat.st_mtime_ns)


@dataclass
class _Source:
    """A file being landed: its identity, and where its rows and problems go."""

    path: Path
    key: tuple[str, int, int]
    sha: str
    writer: LakeWriter
    quarantine: Quarantine
    entry: dict

    def drop(self) -> None:
        """Forget it: gone, or still being written (a later run lands it)."""
        self.writer.abort()
        self.quarantine.discard()


class _Lander:
    def __init__(
        self,
        home: Home,
        settings: IngestSettings,
        parser: SpanParser,
        summary: IngestSummary,
    ):
        self.home = home
        self.settings = settings
        self.limits = settings.limits
        self.inline = InlineParser(parser)
        self.workers = settings.workers
        self.pool_from = settings.processes_from_bytes
        self.pool: ParserPool | None = None
        self.summary = summary
        self.index: ManifestIndex = manifest_index(home.manifest)
        self.seen: set[str] = set()

    def parser_for(self, size: int) -> InlineParser | ParserPool:
        if self.workers < 2 or size < self.pool_from:
            return self.inline
        if self.pool is None:
            self.pool = ParserPool(
                self.settings.vocabulary,
                self.settings.redact,
                self.workers,
                self.limits.attributes,
            )
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def sha_of(self, key: tuple[str, int, int], path: Path) -> str:
        sha = self.index.by_stat.get(key) or _HASHES.get(key)
        if sha is None:
            sha = sha256_file(path)
            _HASHES[key] = sha
        return sha

    def _open(self, path: Path, progress: Progress) -> _Source | None:
        """Hash a file; None if it is gone or its content was handled before."""
        try:
            key = _stat_key(path)
            sha = self.sha_of(key, path)
        except FileNotFoundError:
            return None  # moved away (e.g. rotated) since discovery: seen at its new path
        except OSError as exc:
            raise FleetsignalsError(f"cannot read {path}: {exc.strerror}") from None
        if sha in self.index.by_sha or sha in self.seen:
            before = self.index.by_sha.get(sha, {})
            if before.get("status") == "quarantined":
                # Not retried (the same bytes fail the same way): point at the reason instead.
                self.summary.quarantined_before += 1
                if before.get("quarantine"):
                    self.summary.reasons_before.append(f"quarantine/{before['quarantine']}")
            else:
                self.summary.skipped += 1
            progress.file_done(0)
            return None
        landed_at = parse_time("now")
        entry = {
            "sha256": sha,
            "source": key[0],
            "size": key[1],
            "mtime_ns": key[2],
            "landed_at": format_time(landed_at),
        }
        writer = LakeWriter(self.home.lake, sha, landed_at)
        return _Source(path, key, sha, writer, Quarantine(self.home.quarantine, path, sha), entry)

    def land(self, path: Path, progress: Progress) -> None:
        """Land one file, streamed chunk by chunk."""
        source = self._open(path, progress)
        if source is not None:
            self._stream(source, progress)

    def _stream(self, source: _Source, progress: Progress) -> None:
        parser = self.parser_for(source.key[1])
        try:
            land_chunks(
                source.path,
                parser,
                source.writer,
                source.quarantine,
                progress.spans,
                self.limits.times,
            )
        except SourceError as exc:
            self._finish(source, progress, error=str(exc))
        except FileNotFoundError:
            source.drop()
        except BaseException:
            source.drop()  # no temporary files left behind by a failed (not killed) run
            raise
        else:
            self._finish(source, progress)

    def land_small(self, paths: list[Path], progress: Progress) -> None:
        """Land several small files with one span query per BATCH_BYTES (``ingest/batch.py``)."""
        sources: list[_Source] = []
        chunks: list[Chunk | None] = []
        size = 0
        batched: set[str] = set()
        for path in paths:
            source = self._open(path, progress)
            if source is None:
                continue
            if source.sha in batched:  # the same content twice in the batch
                self.summary.skipped += 1
                progress.file_done(0)
                continue
            try:
                records = read_chunks(path)
                read = list(itertools.islice(records, 2))  # a second chunk: too big to batch
                records.close()
            except SourceError as exc:
                self._finish(source, progress, error=str(exc))
                continue
            except FileNotFoundError:
                source.drop()
                continue
            if len(read) > 1:  # compressed, and bigger than it looked: on its own
                self._stream(source, progress)
                continue
            sources.append(source)
            batched.add(source.sha)
            chunks.append(read[0] if read else None)
            size += len(read[0].data) if read else 0
            if size >= BATCH_BYTES:  # decompressed, a batch may outgrow its size on disk
                self._land_parsed(sources, chunks, progress)
                sources, chunks, size, batched = [], [], 0, set()
        self._land_parsed(sources, chunks, progress)

    def _land_parsed(
        self, sources: list[_Source], chunks: list[Chunk | None], progress: Progress
    ) -> None:
        # Each file still gets its own Parquet files and manifest line (per-file
        # idempotency and quarantine), but their directories are fsynced and their lines
        # appended once for the batch: per-file fsyncs dominated many small files.
        pending = _Pending()
        try:
            parsed = parse_together(self.inline.parser, chunks)
            for source, (table, problems) in zip(sources, parsed, strict=True):
                table, problems = screen_spans(
                    table, problems, source.writer.landed_at, self.limits.times
                )
                source.quarantine.add(problems)
                if table is not None and table.num_rows:
                    source.writer.add(table)
                    progress.spans(table.num_rows)
                self._finish(source, progress, pending=pending)
        except BaseException:
            for source in sources:
                source.drop()  # those already finished have nothing left to drop
            raise
        finally:
            self._record(pending, progress)  # what finished is recorded, even on an error

    def _finish(
        self,
        source: _Source,
        progress: Progress,
        error: str | None = None,
        pending: _Pending | None = None,
    ) -> None:
        """Commit a source's rows and its manifest line (or quarantine it whole). With
        ``pending`` the directory fsyncs and the manifest line wait there for _record."""
        writer, quarantine, entry = source.writer, source.quarantine, source.entry
        if error is not None:
            writer.abort()
            self._whole(quarantine, entry, error)
        elif _stat_key(source.path) != source.key:
            # Still being written: what we read is not the content we hashed.
            source.drop()
            self.summary.unsettled += 1
            return
        elif writer.rows == 0 and quarantine.count:
            first = quarantine.first[0]
            error = f"nothing landed; first problem at line {first['line']}: {first['error']}"
            self._whole(quarantine, entry, error)
        else:
            entry.update(status="landed", spans=writer.rows, rejected=quarantine.count)
            if quarantine.cut:
                entry["cut"] = quarantine.cut
            entry["files"] = writer.commit(sync_dirs=pending is None)
            entry["quarantine"] = quarantine.finish()
            if entry["quarantine"]:
                self._quarantined(entry["quarantine"], quarantine.count)
                self.summary.cut += quarantine.cut
            self.summary.files += 1
            self.summary.spans += writer.rows
        self.seen.add(source.sha)
        if pending is None:
            self.index.append([entry])
            progress.file_done(0)
        else:
            pending.entries.append(entry)
            pending.dirs |= writer.unsynced

    def _record(self, pending: _Pending, progress: Progress) -> None:
        """Make the pending sources' files durable, then append their lines in one write."""
        sync_dirs_of(pending.dirs)
        self.index.append(pending.entries)
        for _ in pending.entries:
            progress.file_done(0)

    def _whole(self, quarantine: Quarantine, entry: dict, error: str) -> None:
        reason = quarantine.whole_file(error)
        entry.update(status="quarantined", spans=0, rejected=quarantine.count, error=error)
        entry.update(files=[], quarantine=reason)
        self._quarantined(reason, quarantine.count)

    def _quarantined(self, reason: str, count: int) -> None:
        self.summary.quarantined += 1
        self.summary.rejected += count
        self.summary.reasons.append(f"quarantine/{reason}")


# (path, size, mtime_ns) -> sha256 of files seen by this process (landed or not), so a
# scheduler calling land_paths every minute does not re-hash an unchanged inbox.
_HASHES: dict[tuple[str, int, int], str] = {}


@dataclass
class _Pending:
    """Sources of one batch committed but not yet recorded: their manifest lines and the
    directories to fsync first."""

    entries: list[dict] = field(default_factory=list)
    dirs: set[Path] = field(default_factory=set)


def _settled(paths: list[Path], settle_seconds: float) -> tuple[list[Path], int]:
    if settle_seconds <= 0:
        return paths, 0
    cutoff = time.time() - settle_seconds
    ready = []
    for path in paths:
        try:
            if path.stat().st_mtime <= cutoff:
                ready.append(path)
        except FileNotFoundError:
            continue
    return ready, len(paths) - len(ready)


def _batches(files: list[Path]) -> Iterator[list[Path]]:
    """Files in order: runs of small ones grouped (up to BATCH_BYTES), the others alone."""
    batch: list[Path] = []
    size = 0
    for path in files:
        try:
            length = path.stat().st_size
        except FileNotFoundError:
            continue
        if length > SMALL_FILE_BYTES:
            if batch:
                yield batch
                batch, size = [], 0
            yield [path]
            continue
        batch.append(path)
        size += length
        if size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def land_paths(
    paths: list[Path],
    home: Home,
    config: Config,
    progress: bool = False,
    settle_seconds: float | None = None,
) -> IngestSummary:
    """Land OTLP/JSON files (directories are walked recursively) in HOME's lake.

    ``settle_seconds``: files modified more recently than this are left for a
    later call (a Collector may still be writing them); default from config
    ``ingest.settle``.
    """
    started = time.perf_counter()
    summary = IngestSummary()
    settings = IngestSettings.from_config(config)
    limits = settings.limits
    for path in paths:
        if not Path(path).exists():
            raise FleetsignalsError(f"no such file or directory: {path}")
    # Never ingest what ingest itself wrote (someone pointing it at HOME).
    files = [f for f in discover(Path(p) for p in paths) if not home.wrote(f)]
    settle = settings.settle_seconds if settle_seconds is None else settle_seconds
    files, summary.unsettled = _settled(files, settle)
    home.ensure()
    workers = settings.workers
    show = progress and sys.stderr.isatty()
    with (
        _ingest_lock(home),
        SpanParser(settings.vocabulary, settings.redact, workers, limits.attributes) as parser,
        Progress(len(files), enabled=show) as meter,
    ):
        lander = _Lander(home, settings, parser, summary)
        try:
            for batch in _batches(files):
                if len(batch) == 1:
                    lander.land(batch[0], meter)
                else:
                    lander.land_small(batch, meter)
        finally:
            lander.close()
    summary.seconds = time.perf_counter() - started
    return summary
