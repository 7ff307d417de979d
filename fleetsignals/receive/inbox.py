"""The receiver's side of the inbox: durable, atomic files, and how much is still unprocessed.

A request is acknowledged only once its file is on disk under its final name:
written to ``.<name>.tmp-<pid>`` (hidden: ingest's discovery and the scheduler
skip dotfiles), fsynced, renamed, and the directory fsynced. A receiver killed
at any point leaves either nothing, a hidden temporary file (swept at the next
start), or a complete file.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from fleetsignals.files import write_atomic
from fleetsignals.ingest.lake import TMP_MARK
from fleetsignals.ingest.manifest import ManifestIndex

BACKLOG_EVERY = 1.0  # seconds between rescans of the inbox for the backlog
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class InboxFull(Exception):
    """The receiver cannot take more now (backlog or disk): answer 429/503 with Retry-After."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def file_name() -> str:
    """Unique, sortable by arrival: a UTC timestamp, then randomness (several receivers may share)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"otlp-{stamp}-{uuid.uuid4().hex[:16]}.json"


def write_durably(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``directory/name`` so that it is there whole or not at all."""
    target = directory / name
    tmp = directory / f".{name}{TMP_MARK}{os.getpid()}"
    write_atomic(target, data, tmp=tmp, exclusive=True, sync_dir=True)
    return target


def sweep_temporaries(directory: Path, older_than: float = 600.0) -> int:
    """Remove temporary files a killed receiver left; young ones may be another receiver's."""
    removed = 0
    cutoff = time.time() - older_than
    for path in directory.glob(f".*{TMP_MARK}*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


@dataclass
class Limits:
    max_files: int  # 0: no limit
    max_bytes: int  # 0: no limit
    min_free_bytes: int  # 0: no check
    delete_landed_after: float | None = None  # seconds; None: keep landed files


class Inbox:
    """The receiver's inbox directory and its backlog (files ingest has not landed yet)."""

    def __init__(self, directory: Path, manifest: Path, limits: Limits):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory.resolve()  # ingest records sources by resolved path
        self.limits = limits
        self.manifest = ManifestIndex(manifest)  # our own: the scheduler's may share the process
        self.lock = threading.Lock()
        self.landed: dict[str, float] = {}  # name -> mtime of files the manifest lists
        self.files = 0
        self.bytes = 0
        self.scanned_at = float("-inf")

    def _scan(self) -> None:
        self.manifest.refresh()
        files = size = 0
        present = set()
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                present.add(entry.name)
                if entry.name in self.landed:
                    continue
                stat = entry.stat()
                key = (str(self.directory / entry.name), stat.st_size, stat.st_mtime_ns)
                if key in self.manifest.by_stat:  # landed or quarantined: ingest is done with it
                    self.landed[entry.name] = stat.st_mtime
                    continue
                files += 1
                size += stat.st_size
        self.landed = {name: at for name, at in self.landed.items() if name in present}
        self.files, self.bytes = files, size
        self.scanned_at = time.monotonic()
        self._delete_landed()

    def _delete_landed(self) -> None:
        """The lake (or the quarantine's copy) holds what a landed file held: drop the file, or
        the inbox grows by a file per request forever and every scheduler pass lists them all."""
        keep_for = self.limits.delete_landed_after
        if keep_for is None:
            return
        cutoff = time.time() - keep_for
        for name in [name for name, at in self.landed.items() if at <= cutoff]:
            (self.directory / name).unlink(missing_ok=True)
            del self.landed[name]

    def check(self, incoming: int) -> None:
        """Raise InboxFull when ``incoming`` more bytes should not be taken now."""
        limits = self.limits
        with self.lock:
            if time.monotonic() - self.scanned_at >= BACKLOG_EVERY:
                self._scan()
            if limits.max_files and self.files >= limits.max_files:
                raise InboxFull(
                    f"{self.files} file(s) in the inbox wait for ingest (limit {limits.max_files})",
                    429,
                )
            if limits.max_bytes and self.bytes + incoming > limits.max_bytes:
                raise InboxFull(
                    f"{self.bytes} byte(s) in the inbox wait for ingest (limit {limits.max_bytes})",
                    429,
                )
        if limits.min_free_bytes:
            free = shutil.disk_usage(self.directory).free
            if free - incoming < limits.min_free_bytes:
                raise InboxFull(f"the inbox's disk has {free} byte(s) free", 503)

    def add(self, data: bytes) -> Path:
        """Write one request's file durably; raises InboxFull (503) when the disk is full."""
        try:
            path = write_durably(self.directory, file_name(), data)
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise InboxFull("the inbox's disk is full", 503) from None
            raise
        with self.lock:
            self.files += 1
            self.bytes += len(data)
        return path
