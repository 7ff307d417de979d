"""One source file through reader -> parser -> writer, the three stages overlapped in threads.

Decompressing and splitting (zlib/zstd), the DuckDB query and Parquet encoding
all release the GIL, so with a stage per thread both cores stay busy while the
bounded queues keep memory flat (at most a few chunks in flight).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ingest.lake import LakeWriter
from ingest.parse import SpanParser
from ingest.quarantine import Quarantine
from ingest.sources import Chunk, read_chunks

IN_FLIGHT = 2  # chunks queued between stages
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def _put(out: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put unless the consumer has stopped (then nobody would take it)."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _produce(items: Iterator[Any], out: queue.Queue, stop: threading.Event) -> None:
    try:
        for item in items:
            if not _put(out, item, stop):
                return
        _put(out, _DONE, stop)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        _put(out, _Failed(exc), stop)


def _consume(source: queue.Queue) -> Iterator[Any]:
    while True:
        item = source.get()
        if item is _DONE:
            return
        if isinstance(item, _Failed):
            raise item.error
        yield item


def land_chunks(
    path: Path,
    parser: SpanParser,
    writer: LakeWriter,
    quarantine: Quarantine,
    on_spans: Callable[[int], None],
) -> None:
    """Parse every chunk of ``path`` into ``writer``; problems go to ``quarantine``.

    Raises what a stage raised (SourceError for an undecodable file) after stopping
    the other stages.
    """
    stop = threading.Event()
    chunks: queue.Queue[Chunk | object] = queue.Queue(IN_FLIGHT)
    tables: queue.Queue[Any] = queue.Queue(IN_FLIGHT)
    reader = threading.Thread(
        target=_produce, args=(read_chunks(path), chunks, stop), name="ingest-reader", daemon=True
    )
    written: list[BaseException] = []

    def write() -> None:
        for table in _consume(tables):
            if written:
                continue  # keep draining so the parser never blocks on a full queue
            try:
                writer.add(table)
            except BaseException as exc:
                written.append(exc)
                stop.set()

    writer_thread = threading.Thread(target=write, name="ingest-writer", daemon=True)
    reader.start()
    writer_thread.start()
    try:
        for chunk in _consume(chunks):
            if written:
                break
            table, problems = parser.parse(chunk)
            quarantine.add(problems)
            if table is not None and table.num_rows:
                tables.put(table)
                on_spans(table.num_rows)
    finally:
        stop.set()
        tables.put(_DONE)
        writer_thread.join()
        _drain(chunks)
        reader.join()
    if written:
        raise written[0]


def _drain(source: queue.Queue) -> None:
    while True:
        try:
            source.get_nowait()
        except queue.Empty:
            return
