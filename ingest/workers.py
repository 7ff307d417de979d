"""Chunk parsing in worker processes, so the Python part of the span query uses every core.

The span query converts attribute lists with Python functions (``ingest/values.py``),
which hold the GIL: in one process that part runs on one core however many
threads DuckDB has. Big files are therefore parsed by worker processes, each
with its own single-threaded DuckDB connection; the parent reads and splits the
file and writes Parquet. Small files (the scheduler's minute dumps) are parsed
in-process, as starting workers costs more than it saves there.

A worker is ``python -m fleetsignals.ingest.workers``, fed pickled chunks on stdin and answering
on stdout, each message prefixed by its length. Not multiprocessing: its spawn
start re-runs the caller's main script in every worker, which would deadlock on
the claims the caller holds when a user's script calls ``land_paths`` without a
``__main__`` guard. A worker whose parent dies sees its stdin end and exits.

Both parsers offer ``submit(chunk) -> Future`` and ``depth`` (chunks worth
keeping in flight), so the pipeline does not care which one it has.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import traceback
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

import pyarrow as pa

from fleetsignals.errors import FleetsignalsError
from fleetsignals.ingest.parse import Problem, SpanParser
from fleetsignals.ingest.sources import Chunk
from fleetsignals.ingest.values import AttributeLimits
from fleetsignals.ingest.vocabulary import Vocabulary

Parsed = tuple[pa.Table | None, list[Problem]]
_LENGTH = struct.Struct(">Q")


def _send(stream: IO[bytes], message: Any) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next message, or EOFError when the other side has gone."""
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        raise EOFError
    (length,) = _LENGTH.unpack(header)
    payload = stream.read(length)
    if len(payload) < length:
        raise EOFError
    return pickle.loads(payload)


class InlineParser:
    """Parses each chunk in this process, when it is submitted."""

    depth = 0

    def __init__(self, parser: SpanParser):
        self.parser = parser

    def submit(self, chunk: Chunk) -> Future[Parsed]:
        future: Future[Parsed] = Future()
        try:
            future.set_result(self.parser.parse(chunk))
        except Exception as exc:  # handed over like a worker's error
            future.set_exception(exc)
        return future


class ParserPool:
    """Parses chunks in ``workers`` processes; results come back as Futures."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        redact: Sequence[str],
        workers: int,
        limits: AttributeLimits,
    ):
        self.idle: queue.Queue[subprocess.Popen] = queue.Queue()
        self.processes = []
        for _ in range(workers):
            process = subprocess.Popen(
                # -P: the working directory is not put on sys.path, so a folder named
                # `ingest` where the user runs fleetsignals cannot shadow this package.
                [sys.executable, "-P", "-m", "fleetsignals.ingest.workers"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            _send(process.stdin, (vocabulary, list(redact), limits))
            self.processes.append(process)
            self.idle.put(process)
        # One thread per worker waits on its pipe (the GIL is released while it waits).
        self.threads = ThreadPoolExecutor(workers, thread_name_prefix="ingest-worker")
        self.depth = workers

    def submit(self, chunk: Chunk) -> Future[Parsed]:
        return self.threads.submit(self._parse, chunk)

    def _parse(self, chunk: Chunk) -> Parsed:
        process = self.idle.get()
        try:
            _send(process.stdin, chunk)
            ok, result = _receive(process.stdout)
        except (EOFError, BrokenPipeError):
            status = process.wait()
            raise FleetsignalsError(
                f"an ingest worker process died (exit status {status}; -9 is often out of"
                " memory; its error, if any, is above); rerun the ingest: what landed is"
                " kept, or set ingest.processes_from_mib higher to parse in-process"
            ) from None
        finally:
            self.idle.put(process)  # a dead one too: the next caller fails fast, never waits
        if not ok:
            raise RuntimeError(f"an ingest worker failed:\n{result}")
        return result

    def close(self) -> None:
        self.threads.shutdown(wait=True, cancel_futures=True)
        for process in self.processes:
            with contextlib.suppress(BrokenPipeError):  # it died (its error was raised)
                process.stdin.close()  # the worker's signal to exit
        for process in self.processes:
            process.wait()
            process.stdout.close()


def _serve() -> None:
    """A worker: parse chunks from stdin until it ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    source = sys.stdin.buffer
    # Replies go to the original stdout; anything else printed goes to stderr.
    sink = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        vocabulary, redact, limits = _receive(source)
    except EOFError:
        return
    with SpanParser(vocabulary, redact, threads=1, limits=limits) as parser:
        while True:
            try:
                chunk = _receive(source)
            except EOFError:
                return
            try:
                reply: tuple[bool, Any] = (True, parser.parse(chunk))
            except Exception:  # a bug: its traceback travels as text (always picklable)
                reply = (False, traceback.format_exc())
            try:
                _send(sink, reply)
            except BrokenPipeError:
                return


if __name__ == "__main__":
    _serve()
