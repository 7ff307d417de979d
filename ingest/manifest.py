"""The manifest: one JSON line per source file landed (or quarantined whole), written last.

A source counts as landed only once its manifest line is on disk (appended in
one write, then fsynced). A line torn by a crash is ignored when reading, so
that source simply lands again on the next run, overwriting its own files.
Several ingest processes append to one manifest, each append under a lock
(``.manifest.lock`` beside it), so lines never interleave.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson

from fleetsignals.files import append_durably, locked
from fleetsignals.ingest.claims import stem_of


@dataclass
class ManifestIndex:
    """What the manifest says, read incrementally (the scheduler rereads it every minute)."""

    path: Path
    by_sha: dict[str, dict] = field(default_factory=dict)
    # (source path, size, mtime_ns) -> sha256, so unchanged files are not hashed again.
    by_stat: dict[tuple[str, int, int], str] = field(default_factory=dict)
    # Every lake file (relative to the lake) some line names; and the stems (``stem_of``)
    # of sources landed by lines from before lines named their files: their files' names.
    files: set[str] = field(default_factory=set)
    unnamed_stems: set[str] = field(default_factory=set)
    offset: int = 0

    def refresh(self) -> ManifestIndex:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < self.offset:  # rewritten by someone else: start over
            self.by_sha.clear()
            self.files.clear()
            self.unnamed_stems.clear()
            self.offset = 0
        if size == self.offset:
            return self
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read(size - self.offset)
        end = data.rfind(b"\n") + 1  # a last line without newline may still be being written
        for line in data[:end].splitlines():
            self._add(line)
        self.offset += end
        return self

    def _add(self, line: bytes) -> None:
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            return  # torn by a crash: that source was not landed
        if not isinstance(entry, dict) or "sha256" not in entry:
            return
        self.by_sha[entry["sha256"]] = entry
        if isinstance(entry.get("files"), list):
            self.files.update(entry["files"])
        elif entry.get("status") == "landed":
            self.unnamed_stems.add(stem_of(entry["sha256"]))
        if {"source", "size", "mtime_ns"} <= entry.keys():
            self.by_stat[(entry["source"], entry["size"], entry["mtime_ns"])] = entry["sha256"]

    def append(self, entries: list[dict]) -> None:
        """Append entries durably in one write; a torn earlier line stays on its own line."""
        if not entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = b"".join(orjson.dumps(e) + b"\n" for e in entries)
        with locked(self.path.with_name(f".{self.path.name}.lock")):
            # A line a killed run left half-written is ended first, so the new ones parse.
            size = self.path.stat().st_size if self.path.exists() else 0
            if size:
                with self.path.open("rb") as handle:
                    handle.seek(size - 1)
                    if handle.read(1) != b"\n":
                        payload = b"\n" + payload
            append_durably(self.path, payload)
        self.refresh()


_INDEXES: dict[Path, ManifestIndex] = {}


def manifest_index(path: Path) -> ManifestIndex:
    """The process-wide index of a manifest, brought up to date."""
    index = _INDEXES.setdefault(path, ManifestIndex(path))
    return index.refresh()


def read_manifest(path: Path) -> list[dict]:
    """Every readable entry of a manifest, in order (torn lines skipped)."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_bytes().splitlines():
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
