"""Landing source files in the lake: the one entry point (``land_paths``) for CLI, scheduler, demo.

Per source file: hash its content; skip it if the manifest already has that
hash; otherwise stream it through the parser into per-partition temporary
files, rename them into place, and append the manifest line last. A run killed
at any point leaves only temporary files (swept by the next run) or complete
files named after the source hash (overwritten by the next run, which lands the
source again because its manifest line is missing). So the lake never shows a
partial file, and a rerun lands exactly what is missing.

Runs of small files (up to 1 MiB each, 16 MiB together) are parsed with one
query (``ingest/batch.py``) and land together, in one Parquet file per partition for
the batch, each source keeping its own manifest line (``ingest/batches.py``: how a run
killed between publishing and recording is undone).
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.files import HeldLock
from fleetsignals.home import Home
from fleetsignals.ingest.batch import BATCH_BYTES, SMALL_FILE_BYTES, parse_together
from fleetsignals.ingest.batches import (
    drop_unrecorded_alone,
    new_batch,
    publishing,
    resolve_dead,
    write_intent,
)
from fleetsignals.ingest.claims import claim, ingest_run
from fleetsignals.ingest.lake import LakeWriter
from fleetsignals.ingest.limits import screen_spans
from fleetsignals.ingest.manifest import ManifestIndex, manifest_index
from fleetsignals.ingest.parse import Problem, SpanParser
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
    contested: int = 0  # files another ingest was landing at the same time (waited for)
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
        if self.contested:
            text += f"; {self.contested} being landed by another ingest (waited for it)"
        if self.unsettled:
            text += f"; {self.unsettled} still being written (left for the next run)"
        return text + f" in {self.seconds:.1f}s"


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
    claim: HeldLock

    def drop(self) -> None:
        """Forget it: gone, or still being written (a later run lands it)."""
        self.writer.abort()
        self.quarantine.discard()
        self.claim.release(remove=True)


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
        self.claimed: dict[str, HeldLock] = {}  # held by this run (a batch holds several)
        self.contested: list[Path] = []  # claimed by another run: retried at the end

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
        # Claims outliving the run would make other runs wait forever (a scheduler lives on).
        for held in self.claimed.values():
            held.release(remove=True)
        self.claimed.clear()
        if self.pool is not None:
            self.pool.close()

    def sha_of(self, key: tuple[str, int, int], path: Path) -> str:
        sha = self.index.by_stat.get(key) or _HASHES.get(key)
        if sha is None:
            sha = sha256_file(path)
            _HASHES[key] = sha
        return sha

    def _open(self, path: Path, progress: Progress, wait: bool = False) -> _Source | None:
        """Hash and claim a file; None if it is gone, its content was handled before, or
        (``wait`` false) another run holds its claim: then it is left in ``contested``."""
        try:
            key = _stat_key(path)
            sha = self.sha_of(key, path)
        except FileNotFoundError:
            return None  # moved away (e.g. rotated) since discovery: seen at its new path
        except OSError as exc:
            raise FleetsignalsError(f"cannot read {path}: {exc.strerror}") from None
        if sha in self.claimed:  # the same content twice in one batch
            self.summary.skipped += 1
            progress.file_done(0)
            return None
        held = None
        if sha not in self.index.by_sha and sha not in self.seen:
            held = claim(self.home.lake.parent, sha, wait=wait)
            if held is None:
                self.contested.append(path)
                return None
            self.index.refresh()  # another run may have landed it before we claimed it
        if sha in self.index.by_sha or sha in self.seen:
            if held is not None:
                held.release(remove=True)
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
        quarantine = Quarantine(self.home.quarantine, path, sha)
        self.claimed[sha] = held
        return _Source(path, key, sha, writer, quarantine, entry, held)

    def land(self, path: Path, progress: Progress, wait: bool = False) -> None:
        """Land one file, streamed chunk by chunk (``wait``: for another run's claim)."""
        source = self._open(path, progress, wait)
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
            self._drop(source)
        except BaseException:
            self._drop(source)  # no temporary files left behind by a failed (not killed) run
            raise
        else:
            self._finish(source, progress)

    def land_small(self, paths: list[Path], progress: Progress) -> None:
        """Land several small files with one span query per BATCH_BYTES (``ingest/batch.py``)."""
        sources: list[_Source] = []
        chunks: list[Chunk | None] = []
        size = 0
        for path in paths:
            source = self._open(path, progress)
            if source is None:
                continue
            try:
                records = read_chunks(path)
                read = list(itertools.islice(records, 2))  # a second chunk: too big to batch
                records.close()
            except SourceError as exc:
                self._finish(source, progress, error=str(exc))
                continue
            except FileNotFoundError:
                self._drop(source)
                continue
            if len(read) > 1:  # compressed, and bigger than it looked: on its own
                self._stream(source, progress)
                continue
            sources.append(source)
            chunks.append(read[0] if read else None)
            size += len(read[0].data) if read else 0
            if size >= BATCH_BYTES:  # decompressed, a batch may outgrow its size on disk
                self._land_parsed(sources, chunks, progress)
                sources, chunks, size = [], [], 0
        self._land_parsed(sources, chunks, progress)

    def _land_parsed(
        self, sources: list[_Source], chunks: list[Chunk | None], progress: Progress
    ) -> None:
        """Land parsed small sources together: one Parquet file per partition for the
        batch, one manifest line per source (``ingest/batches.py``)."""
        if not sources:
            return
        lake_root = self.home.lake.parent
        batch_id, batch_claim = new_batch(lake_root)
        writer = LakeWriter(self.home.lake, batch_id, parse_time("now"))
        pending = _Pending()
        intent: Path | None = None
        recorded = False
        try:
            parsed = parse_together(self.inline.parser, chunks)
            for source, (table, problems) in zip(sources, parsed, strict=True):
                self._add_to_batch(source, table, problems, writer, batch_id, pending)
            # Shared from closing (its temporaries are touched by name from then on) until
            # recorded: no partition swap meanwhile (ingest/batches.py).
            with publishing(lake_root):
                files = writer.close()
                if files:
                    shas = [s.sha for s in pending.sources]
                    intent = write_intent(lake_root, batch_id, files, shas)
                    self._resolve()
                    drop_unrecorded_alone(self.home.lake, pending.entries)
                    writer.publish()
                self.index.append(pending.entries)
                recorded = True
                if intent is not None:
                    intent.unlink()
        finally:
            if not recorded:
                writer.abort()  # temporaries only: published files stay for resolve_dead
                for source in sources:
                    self._drop(source)
            for source in pending.sources:
                self._release(source)
            batch_claim.release(remove=True)
        for source in pending.sources:
            progress.spans(source.entry.get("spans", 0))
            progress.file_done(0)

    def _add_to_batch(
        self,
        source: _Source,
        table: pa.Table | None,
        problems: list[Problem],
        writer: LakeWriter,
        batch_id: str,
        pending: _Pending,
    ) -> None:
        """Screen one source's rows into the batch's writer, and make its manifest line."""
        quarantine, entry = source.quarantine, source.entry
        table, problems = screen_spans(table, problems, source.writer.landed_at, self.limits.times)
        quarantine.add(problems)
        rows = table.num_rows if table is not None else 0
        if _stat_key(source.path) != source.key:
            # Still being written: what we read is not the content we hashed.
            self._drop(source)
            self.summary.unsettled += 1
            return
        if rows == 0 and quarantine.count:
            first = quarantine.first[0]
            error = f"nothing landed; first problem at line {first['line']}: {first['error']}"
            self._whole(quarantine, entry, error)
        else:
            files = []
            if table is not None and rows:
                writer.add(table, source.sha, source.writer.landed_at)
                files = writer.names(table)
            entry.update(status="landed", spans=rows, rejected=quarantine.count)
            if quarantine.cut:
                entry["cut"] = quarantine.cut
            entry.update(files=files, batch=batch_id)
            entry["quarantine"] = quarantine.finish()
            if entry["quarantine"]:
                self._quarantined(entry["quarantine"], quarantine.count)
                self.summary.cut += quarantine.cut
            self.summary.files += 1
            self.summary.spans += rows
        self.seen.add(source.sha)
        pending.entries.append(entry)
        pending.sources.append(source)

    def _resolve(self) -> None:
        """Undo dead runs' unrecorded batches before publishing anything (a source of
        theirs may be about to land again)."""
        resolve_dead(self.home.lake.parent, self.home.lake, self.index)

    def _finish(self, source: _Source, progress: Progress, error: str | None = None) -> None:
        """Commit a source's rows and its manifest line (or quarantine it whole), under the
        shared publish lock: retention never compacts files whose line is not written."""
        with publishing(self.home.lake.parent):
            if not self._record(source, error):
                return
        self._release(source)
        progress.file_done(0)

    def _record(self, source: _Source, error: str | None) -> bool:
        """Publish and record (see ``_finish``); False if the source was dropped."""
        writer, quarantine, entry = source.writer, source.quarantine, source.entry
        if error is not None:
            writer.abort()
            self._whole(quarantine, entry, error)
        elif _stat_key(source.path) != source.key:
            # Still being written: what we read is not the content we hashed.
            self._drop(source)
            self.summary.unsettled += 1
            return False
        elif writer.rows == 0 and quarantine.count:
            first = quarantine.first[0]
            error = f"nothing landed; first problem at line {first['line']}: {first['error']}"
            self._whole(quarantine, entry, error)
        else:
            entry.update(status="landed", spans=writer.rows, rejected=quarantine.count)
            if quarantine.cut:
                entry["cut"] = quarantine.cut
            entry["files"] = writer.close()
            self._resolve()
            writer.publish()
            entry["quarantine"] = quarantine.finish()
            if entry["quarantine"]:
                self._quarantined(entry["quarantine"], quarantine.count)
                self.summary.cut += quarantine.cut
            self.summary.files += 1
            self.summary.spans += writer.rows
        self.seen.add(source.sha)
        self.index.append([entry])
        return True

    def _release(self, source: _Source) -> None:
        """Give up a source's claim once its manifest line is written."""
        source.claim.release(remove=True)
        self.claimed.pop(source.sha, None)

    def _drop(self, source: _Source) -> None:
        source.drop()
        self.claimed.pop(source.sha, None)

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
    """Sources of one batch whose manifest lines are not written yet."""

    entries: list[dict] = field(default_factory=list)
    sources: list[_Source] = field(default_factory=list)


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
        ingest_run(home.lake.parent, home.lake),
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
            # Files another run was landing: wait for its claim, then (its manifest line
            # written) skip them, or (it died) land them. This run holds no claim now.
            summary.contested = len(lander.contested)
            for path in lander.contested:
                lander.land(path, meter, wait=True)
        finally:
            lander.close()
    summary.seconds = time.perf_counter() - started
    return summary
