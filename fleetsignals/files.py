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
def locked(path: Path, *, busy: str | None = None, shared: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block.

    Without ``busy`` it waits for the holder; with it, a held lock raises
    FleetsignalsError(busy) at once. ``shared`` takes a shared lock instead (held by many
    at once, excluding the exclusive one). A killed holder's lock is released by the kernel.
    """
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle.fileno(), mode | (fcntl.LOCK_NB if busy else 0))
        except BlockingIOError:
            raise FleetsignalsError(busy) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class HeldLock:
    """An exclusive lock on a lock file, held until ``release`` (or the holder's death)."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    def release(self, *, remove: bool = False) -> None:
        """Let go (again: nothing). With ``remove`` the file is unlinked first, while still
        held, so a waiter wakes on a dead file and retries on a fresh one (``acquire_lock``)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if remove:
                self.path.unlink(missing_ok=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def acquire_lock(path: Path, *, wait: bool, create: bool = True) -> HeldLock | None:
    """An exclusive lock on ``path``, for as long as the caller keeps it.

    ``wait`` false: None at once if another holds it. ``create`` false: None if the file
    does not exist. Locks are per open file, so a second ``acquire_lock`` of a path this
    process holds is refused too. A killed holder's lock is released by the kernel.
    """
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    while True:
        try:
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        # The holder before us may have removed the file: our lock is then on a name
        # nobody else will open, so take the current file instead.
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            return HeldLock(path, fd)
        os.close(fd)
        if not create:
            return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
