"""Durable file operations, one helper each: atomic writes, fsync, appends and locks.

Every stage that must not leave half a file (the lake, the manifest, quarantine, the
inbox, snapshots, retention's journal and facts, the alert file sink) uses these, so a
crash leaves either the old file or the new one, and a synced one is on disk.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fleetsignals.errors import FleetsignalsError


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (names created, renamed or removed in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Make a closed file's contents durable (one another writer made: Parquet, a copy)."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def temporary_beside(path: Path) -> Path:
    """A hidden, unique name in the path's directory, ending in ``.tmp``."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def commit_file(tmp: Path, path: Path, *, sync_dir: bool = False) -> None:
    """Put a written temporary file in place: fsync it, rename it over ``path``, and with
    ``sync_dir`` fsync the directory so the new name survives a crash too."""
    fsync_file(tmp)
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)


def write_atomic(
    path: Path,
    data: bytes | str,
    *,
    tmp: Path | None = None,
    durable: bool = True,
    exclusive: bool = False,
    sync_dir: bool = False,
    mode: int | None = None,
) -> None:
    """Write ``data`` so readers see the old file or the new one, never half of one.

    The data goes to ``tmp`` (default: ``temporary_beside(path)``), is fsynced unless
    ``durable`` is false, and is renamed over ``path``; ``sync_dir`` also fsyncs the
    directory. ``exclusive`` refuses an existing ``tmp``; ``mode`` sets the permissions
    whatever the umask. A failed write removes ``tmp``.
    """
    tmp = tmp or temporary_beside(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(tmp, flags, 0o666)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            _write_all(fd, payload)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def append_durably(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` (created if missing) and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(path: Path, *, busy: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block.

    Without ``busy`` it waits for the holder; with it, a held lock raises
    FleetsignalsError(busy) at once. A killed holder's lock is released by the kernel.
    """
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (fcntl.LOCK_NB if busy else 0))
        except BlockingIOError:
            raise FleetsignalsError(busy) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
