"""One source file through reader -> parser -> writer, the three stages overlapped.

Decompressing and splitting (zlib/zstd) and Parquet encoding release the GIL, so
the reader and writer are threads; parsing is in this process or in worker
processes (``ingest/workers.py``). Bounded queues and a bounded number of chunks
in the parser keep memory flat; results are handed on in file order.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from fleetsignals.ingest.lake import LakeWriter
from fleetsignals.ingest.limits import TimeBounds, screen_spans
from fleetsignals.ingest.quarantine import Quarantine
from fleetsignals.ingest.sources import Chunk, read_chunks
from fleetsignals.ingest.workers import InlineParser, Parsed, ParserPool

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
    parser: InlineParser | ParserPool,
    writer: LakeWriter,
    quarantine: Quarantine,
    on_spans: Callable[[int], None],
    bounds: TimeBounds,
) -> None:
    """Parse every chunk of ``path`` into ``writer``; problems go to ``quarantine``, with
    the spans whose times are out of ``bounds`` (judged at ``writer.landed_at``).

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

    def hand_on(future: Future[Parsed]) -> None:
        table, problems = screen_spans(*future.result(), writer.landed_at, bounds)
        quarantine.add(problems)
        if table is not None and table.num_rows:
            tables.put(table)
            on_spans(table.num_rows)

    writer_thread = threading.Thread(target=write, name="ingest-writer", daemon=True)
    reader.start()
    writer_thread.start()
    parsing: deque[Future[Parsed]] = deque()
    try:
        for chunk in _consume(chunks):
            if written:
                break
            parsing.append(parser.submit(chunk))
            while parsing and (len(parsing) > parser.depth or parsing[0].done()):
                hand_on(parsing.popleft())
        while parsing and not written:
            hand_on(parsing.popleft())
    finally:
        for future in parsing:
            future.cancel()
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
