"""Quarantine: what could not land, kept under HOME/quarantine/ with the reason.

Granularity: a record (JSON line or frame) that is not valid UTF-8 or JSON, or
not OTLP trace data, and a span with invalid or implausible ids or times, are set
aside on their own; the rest of the file lands. A span cut by the attribute limits
lands cut, and is kept here whole (its rejects line has ``"landed": true``). A file that cannot be decoded at all (corrupt
or truncated gzip/zstd, an invalid single JSON document) or that yields nothing
but problems is quarantined whole.

Layout, per source file (``<name>`` is the source's file name, ``<sha>`` the
first 12 hex digits of its content hash):

- ``<name>.<sha>.rejects.jsonl``: one line per rejected record or span,
  ``{"line", "error", "record"}`` (``record``: the line's text, or the span as JSON),
  and per span landed cut ``{"line", "error", "record", "landed": true}`` (``record``:
  an OTLP message holding the whole span as sent);
- ``<name>.<sha>`` : a copy of a file quarantined whole;
- ``<name>.<sha>.reason.json``: the sidecar naming the source, its hash, when,
  the number of problems by kind and the first problems with their line numbers.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path

import orjson

from fleetsignals.files import commit_file, fsync_dir, write_atomic
from fleetsignals.ingest.parse import Problem
from fleetsignals.timeutil import format_time, parse_time

FIRST_PROBLEMS = 20


def _kind(error: str) -> str:
    """The error without its specifics, for counting: 'invalid trace id', 'invalid JSON'."""
    return re.split(r'[:"(]', error, maxsplit=1)[0].strip()


class Quarantine:
    """Collects the problems of one source file and writes them out."""

    def __init__(self, root: Path, source: Path, sha256: str):
        self.root = root
        self.source = source
        self.sha256 = sha256
        self.base = f"{source.name}.{sha256[:12]}"
        self.count = 0  # problems of what did not land
        self.cut = 0  # spans landed cut by the attribute limits (kept whole here)
        self.kinds: Counter[str] = Counter()
        self.first: list[dict] = []
        self._handle = None

    @property
    def rejects_path(self) -> Path:
        return self.root / f"{self.base}.rejects.jsonl"

    @property
    def reason_path(self) -> Path:
        return self.root / f"{self.base}.reason.json"

    def _tmp_rejects(self) -> Path:
        return self.root / f".{self.base}.rejects.jsonl.tmp-{os.getpid()}"

    def add(self, problems: list[Problem]) -> None:
        if not problems:
            return
        if self._handle is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._handle = self._tmp_rejects().open("wb")
        for problem in problems:
            self._handle.write(orjson.dumps(problem.as_json()) + b"\n")
            if problem.landed:
                self.cut += 1
            else:
                self.count += 1
            self.kinds[_kind(problem.error)] += 1
            if len(self.first) < FIRST_PROBLEMS:
                self.first.append({"line": problem.line, "error": problem.error})

    def _reason(self, whole: bool, error: str, content: str) -> None:
        reason = {
            "source": str(self.source),
            "sha256": self.sha256,
            "quarantined_at": format_time(parse_time("now")),
            "whole_file": whole,
            "error": error,
            "problems": self.count,
            "landed_cut": self.cut,
            "problems_by_kind": dict(self.kinds.most_common()),
            "first_problems": self.first,
            "content": content,
        }
        path = self.reason_path
        data = orjson.dumps(reason, option=orjson.OPT_INDENT_2)
        write_atomic(path, data, tmp=path.with_name(f".{path.name}.tmp-{os.getpid()}"))
        fsync_dir(self.root)

    def finish(self) -> str | None:
        """Put the rejects in place (if any); returns the sidecar path relative to HOME."""
        if self._handle is None:
            return None
        self._handle.close()
        self._handle = None
        commit_file(self._tmp_rejects(), self.rejects_path)
        first = self.first[0]
        summary = f"{self.count} record(s) or span(s) rejected"
        if self.cut:
            summary += f", {self.cut} span(s) landed cut by the attribute limits"
        summary += f"; first at line {first['line']}: {first['error']}"
        self._reason(False, summary, self.rejects_path.name)
        return self.reason_path.name

    def whole_file(self, error: str) -> str:
        """Quarantine the whole source file (a copy; the original is left where it was)."""
        self.discard()
        self.root.mkdir(parents=True, exist_ok=True)
        copy = self.root / self.base
        tmp = self.root / f".{self.base}.tmp-{os.getpid()}"
        shutil.copyfile(self.source, tmp)
        commit_file(tmp, copy)
        self._reason(True, error, copy.name)
        return self.reason_path.name

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            self._tmp_rejects().unlink(missing_ok=True)
