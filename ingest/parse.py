"""Chunks of records -> span rows (Arrow) and problems, on one DuckDB connection.

The fast path hands a whole chunk to the span query. Bad input is rare, so it
is found only when the fast path fails: invalid UTF-8 is caught by Arrow's
validation, invalid JSON by the query erroring, after which the chunk is
checked record by record, the bad ones set aside, and the rest rerun.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from fleetsignals.ingest.otlp_sql import build_query, register
from fleetsignals.ingest.sources import Chunk, json_error
from fleetsignals.ingest.values import NO_LIMITS, AttributeLimits
from fleetsignals.ingest.vocabulary import Vocabulary

BATCHES = 32  # Arrow batches per chunk: DuckDB scans batches in parallel, one thread each


@dataclass(frozen=True)
class Problem:
    """A record or span set aside: where it was, why, and what it was."""

    line: int
    error: str
    record: str | None = None  # the record's text, or the rejected span as JSON
    landed: bool = False  # the span landed nonetheless (cut by the attribute limits)

    def as_json(self) -> dict:
        out = {"line": self.line, "error": self.error, "record": self.record}
        if self.landed:
            out["landed"] = True
        return out


def redactor(patterns: Sequence[str]):
    """A predicate for attribute keys dropped by the ``redact`` config (exact keys or globs)."""
    if not patterns:
        return None
    exact = {p for p in patterns if not any(c in p for c in "*?[")}
    globs = [p for p in patterns if p not in exact]
    return lambda key: key in exact or any(fnmatch.fnmatchcase(key, g) for g in globs)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")


def _records(chunk: Chunk) -> pa.Table:
    lines = pa.LargeStringArray.from_buffers(
        len(chunk.line_nos), pa.py_buffer(chunk.starts), pa.py_buffer(chunk.data)
    )
    return pa.table({"line_no": pa.array(chunk.line_nos, pa.int64()), "line": lines})


def _subset(chunk: Chunk, keep: np.ndarray) -> Chunk:
    pieces = [chunk.data[chunk.starts[i] : chunk.starts[i + 1]] for i in np.flatnonzero(keep)]
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    starts = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return Chunk(b"".join(pieces), starts, chunk.line_nos[keep])


def _record(chunk: Chunk, i: int) -> bytes:
    return chunk.data[chunk.starts[i] : chunk.starts[i + 1]]


def _span_count(message: object) -> int | None:
    """Spans a parsed OTLP message holds, or None if it is not OTLP trace data."""
    if not isinstance(message, dict):
        return None
    resources = message.get("resourceSpans", message.get("resource_spans"))
    if resources is None:
        return 0 if not message else None
    if not isinstance(resources, list):
        return None
    count = 0
    for resource in resources:
        if not isinstance(resource, dict):
            return None
        for key in ("scopeSpans", "scope_spans", "instrumentationLibrarySpans"):
            for scope in resource.get(key) or ():
                spans = scope.get("spans") if isinstance(scope, dict) else None
                count += len(spans) if isinstance(spans, list) else 0
    return count


class SpanParser:
    """Owns the DuckDB connection and the prepared query text for one ingest run."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        redact: Sequence[str],
        threads: int,
        limits: AttributeLimits = NO_LIMITS,
    ):
        self.sql, self.params, macros = build_query(vocabulary, redact)
        # No DuckDB progress bar: ingest has its own, and only on a terminal.
        self.con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1})
        self.con.execute("set enable_progress_bar = false")
        register(self.con, redactor(redact), limits)
        self.con.execute(macros)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> SpanParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, chunk: Chunk) -> pa.Table:
        table = _records(chunk)
        batches = table.to_batches(max_chunksize=max(1, -(-table.num_rows // BATCHES)))
        self.con.register("records", pa.Table.from_batches(batches, schema=table.schema))
        try:
            return self.con.sql(self.sql, params=self.params).to_arrow_table()
        finally:
            self.con.unregister("records")

    def parse(self, chunk: Chunk) -> tuple[pa.Table | None, list[Problem]]:
        """Span rows (with ``dt``/``hr``) of a chunk, and the problems found in it."""
        problems: list[Problem] = []
        chunk = self._drop_invalid_utf8(chunk, problems)
        if len(chunk.line_nos) == 0:
            return None, problems
        try:
            out = self._run(chunk)
        except duckdb.Error:
            chunk = self._drop_invalid_json(chunk, problems)
            if len(chunk.line_nos) == 0:
                return None, problems
            try:
                out = self._run(chunk)
            except duckdb.Error:
                out = self._run_one_by_one(chunk, problems)
        if out is None:
            return None, problems
        bad = pc.is_valid(out["problem"])
        if pc.any(bad).as_py():
            for row in out.filter(bad).select(["line_no", "problem", "rejected"]).to_pylist():
                problems.append(Problem(row["line_no"], row["problem"], row["rejected"]))
            out = out.filter(pc.invert(bad))
        self._check_empty_records(chunk, out, problems)
        return out, problems

    def _drop_invalid_utf8(self, chunk: Chunk, problems: list[Problem]) -> Chunk:
        try:
            _records(chunk)["line"].validate(full=True)
            return chunk
        except pa.ArrowInvalid:
            pass
        keep = np.ones(len(chunk.line_nos), dtype=bool)
        for i in range(len(chunk.line_nos)):
            raw = _record(chunk, i)
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                keep[i] = False
                problems.append(
                    Problem(
                        int(chunk.line_nos[i]), f"invalid UTF-8 at byte {exc.start}", _text(raw)
                    )
                )
        return _subset(chunk, keep)

    def _drop_invalid_json(self, chunk: Chunk, problems: list[Problem]) -> Chunk:
        keep = np.ones(len(chunk.line_nos), dtype=bool)
        for i in range(len(chunk.line_nos)):
            raw = _record(chunk, i)
            try:
                orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                keep[i] = False
                problems.append(Problem(int(chunk.line_nos[i]), json_error(raw, exc), _text(raw)))
        return _subset(chunk, keep)

    def _run_one_by_one(self, chunk: Chunk, problems: list[Problem]) -> pa.Table | None:
        """Last resort when the query still fails: isolate the records it fails on."""
        tables = []
        for i in range(len(chunk.line_nos)):
            one = _subset(chunk, np.arange(len(chunk.line_nos)) == i)
            try:
                tables.append(self._run(one))
            except duckdb.Error as exc:
                message = str(exc).split("\n")[0]
                problems.append(Problem(int(one.line_nos[0]), f"unreadable record: {message}"))
        return pa.concat_tables(tables) if tables else None

    def _check_empty_records(self, chunk: Chunk, out: pa.Table, problems: list[Problem]) -> None:
        """Records that yielded no span are either empty messages or not OTLP trace data."""
        seen = np.unique(out["line_no"].to_numpy()) if out.num_rows else np.empty(0, np.int64)
        reported = np.array([p.line for p in problems], dtype=np.int64)
        missing = np.setdiff1d(chunk.line_nos, np.concatenate([seen, reported]))
        if len(missing) == 0:
            return
        index = {int(n): i for i, n in enumerate(chunk.line_nos)}
        for line_no in missing:
            raw = _record(chunk, index[int(line_no)])
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:  # DuckDB read it, orjson does not: say so
                problems.append(Problem(int(line_no), json_error(raw, exc), _text(raw)))
                continue
            count = _span_count(message)
            if count == 0:
                continue
            if count is None:
                kind = type(message).__name__
                keys = ", ".join(list(message)[:5]) if isinstance(message, dict) else ""
                what = f"an object with keys {keys}" if keys else f"a JSON {kind}"
                error = f"not OTLP trace data: {what}, expected resourceSpans"
            else:
                error = f"malformed OTLP: {count} span(s) could not be read (wrong field types)"
            problems.append(Problem(int(line_no), error, _text(raw)))
