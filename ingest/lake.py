"""Writing span rows into the Hive-partitioned Parquet lake, atomically.

Each source file lands as at most one Parquet file per hour partition, named
from the source's content hash: ``dt=YYYY-MM-DD/hr=HH/<sha256[:32]>.parquet``. A batch
of small source files lands together, named after the batch (``ingest/batches.py``):
each row's ``source_sha256`` says which source it came from.
Rows are written into a temporary file in the same directory (a name not
ending in ``.parquet``, so readers globbing ``*.parquet`` never see it), then
fsynced and renamed. A rerun of the same source writes the same names, so it
replaces rather than duplicates whatever a killed run left behind.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fleetsignals.files import fsync_dir, fsync_file
from fleetsignals.ingest.schema import SPAN_SCHEMA

ROW_GROUP_ROWS = 64_000  # DuckDB reads row groups in parallel; tens of thousands each suit it
BUFFER_ROWS = 64_000  # rows held across partitions before the largest is flushed (memory)
TMP_MARK = ".tmp-"


def partition_dir(lake: Path, dt: str, hr: str) -> Path:
    return lake / f"dt={dt}" / f"hr={hr}"


def sync_dirs_of(directories: set[Path]) -> None:
    """fsync directories (deepest first is not needed: each holds its own entries)."""
    for directory in sorted(directories):
        fsync_dir(directory)


class LakeWriter:
    """Buffers span rows per partition and writes one Parquet file per partition.

    ``sha256`` names the files (its first 32 hex digits) and, with ``landed_at``, is what
    the rows carry unless ``add`` is given a source's own (a batch of sources).
    """

    def __init__(self, lake: Path, sha256: str, landed_at: datetime):
        self.lake = lake
        self.sha256 = sha256
        self.landed_at = landed_at
        self.stem = sha256[:32]
        self.buffers: dict[tuple[str, str], list[pa.Table]] = {}
        self.buffered: dict[tuple[str, str], int] = {}
        self.writers: dict[tuple[str, str], pq.ParquetWriter] = {}
        self.unsynced: set[Path] = set()  # directories commit(sync_dirs=False) left to sync
        self.rows = 0

    def _final(self, key: tuple[str, str]) -> Path:
        return partition_dir(self.lake, *key) / f"{self.stem}.parquet"

    def _tmp(self, key: tuple[str, str]) -> Path:
        return partition_dir(self.lake, *key) / f".{self.stem}.parquet{TMP_MARK}{os.getpid()}"

    def names(self, table: pa.Table) -> list[str]:
        """The files (relative to the lake) that the rows of ``table`` land in."""
        keys = pc.unique(pc.binary_join_element_wise(table["dt"], table["hr"], "/"))
        return sorted(
            self._final(tuple(k.split("/"))).relative_to(self.lake).as_posix()
            for k in keys.to_pylist()
        )

    def _conform(self, table: pa.Table, sha256: str, landed_at: datetime) -> pa.Table:
        n = table.num_rows
        columns = []
        for field in SPAN_SCHEMA:
            if field.name == "source_sha256":
                columns.append(pa.repeat(pa.scalar(sha256, pa.string()), n))
            elif field.name == "landed_at":
                columns.append(pa.repeat(pa.scalar(landed_at, field.type), n))
            else:
                columns.append(table[field.name].cast(field.type))
        return pa.Table.from_arrays(columns, schema=SPAN_SCHEMA)

    def add(
        self, table: pa.Table, sha256: str | None = None, landed_at: datetime | None = None
    ) -> None:
        """Add span rows (the parser's output, with ``dt`` and ``hr``) of one source."""
        if table.num_rows == 0:
            return
        keys = pc.binary_join_element_wise(table["dt"], table["hr"], "/")
        unique = pc.unique(keys).to_pylist()
        rows = self._conform(table, sha256 or self.sha256, landed_at or self.landed_at)
        for key_text in unique:
            key = tuple(key_text.split("/"))
            part = rows.filter(pc.equal(keys, key_text)) if len(unique) > 1 else rows
            self.buffers.setdefault(key, []).append(part)
            self.buffered[key] = self.buffered.get(key, 0) + part.num_rows
            if self.buffered[key] >= ROW_GROUP_ROWS:
                self._flush(key)
        self.rows += table.num_rows
        while sum(self.buffered.values()) > BUFFER_ROWS:
            self._flush(max(self.buffered, key=self.buffered.__getitem__))

    def _flush(self, key: tuple[str, str]) -> None:
        parts = self.buffers.pop(key, [])
        self.buffered.pop(key, None)
        if not parts:
            return
        writer = self.writers.get(key)
        if writer is None:
            directory = partition_dir(self.lake, *key)
            directory.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(
                self._tmp(key), SPAN_SCHEMA, compression="zstd", write_statistics=True
            )
            self.writers[key] = writer
        writer.write_table(pa.concat_tables(parts), row_group_size=ROW_GROUP_ROWS)

    def commit(self, sync_dirs: bool = True) -> list[str]:
        """Flush, fsync and rename every file into place; returns paths relative to the lake.

        With sync_dirs false the directories to fsync are left in ``unsynced`` for the
        caller, who syncs those of several sources at once (before recording any of them).
        """
        written = self.close()
        self.publish(sync_dirs)
        return written

    def close(self) -> list[str]:
        """Flush and fsync every temporary file (not yet visible); returns the paths,
        relative to the lake, that ``publish`` will put them at."""
        for key in list(self.buffers):
            self._flush(key)
        written = []
        for key, writer in sorted(self.writers.items()):
            writer.close()
            fsync_file(self._tmp(key))
            written.append(self._final(key).relative_to(self.lake).as_posix())
        return written

    def publish(self, sync_dirs: bool = True) -> None:
        """Rename the closed files into place (see ``commit`` for ``sync_dirs``)."""
        for key in sorted(self.writers):
            os.replace(self._tmp(key), self._final(key))
        # New directory entries (files, and partition directories made by this run) are
        # durable only once their parent directories are synced.
        dirs = {partition_dir(self.lake, *key) for key in self.writers}
        self.unsynced = dirs | {d.parent for d in dirs} | {self.lake} if dirs else set()
        if sync_dirs:
            sync_dirs_of(self.unsynced)
            self.unsynced = set()
        self.writers.clear()

    def abort(self) -> None:
        """Drop everything written so far (the source is being quarantined instead)."""
        self.buffers.clear()
        self.buffered.clear()
        for key, writer in self.writers.items():
            try:
                writer.close()
            finally:
                self._tmp(key).unlink(missing_ok=True)
        self.writers.clear()
