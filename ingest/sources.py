"""Input files: discovery, content hashing, decompression and splitting into records.

A record is one OTLP message: one JSON line, one length-prefixed zstd frame of
the Collector's fileexporter, a whole file holding one (pretty-printed) JSON
document, or one element of a file holding a JSON array of messages (as trace
viewers' demo data and capture tools write them). A message wrapped the way
Jaeger's API answers (``{"result": {"resourceSpans": ...}}``) is unwrapped. Records are handed on in chunks of a few MiB, so a file of any size is
streamed with bounded memory. Compression is detected from magic bytes, not
from the file name.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import os
import re
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson
import zstandard

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
UTF8_BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 16 << 20  # records per chunk: a few MiB keeps every core busy and memory flat
READ_BYTES = 1 << 20
# A single-document file cannot be streamed by line; above this it must be JSON lines.
MAX_DOCUMENT_BYTES = 1 << 30


class SourceError(Exception):
    """The file cannot be decoded at all (corrupt or truncated compression): quarantine it whole."""


@dataclass(frozen=True)
class Chunk:
    """Complete records: ``data[starts[i]:starts[i+1]]`` is record ``line_nos[i]``."""

    data: bytes
    starts: np.ndarray  # int64, len(records) + 1
    line_nos: np.ndarray  # int64, 1-based line (or frame) numbers


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files named, plus every file under directories named (recursively, hidden ones skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(Path(root, f) for f in sorted(files) if not f.startswith("."))
        else:
            found.append(path)
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path.resolve(), None)
    return list(unique)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


def detect_compression(head: bytes) -> str:
    """``gzip``, ``zstd`` (a plain stream), ``zstd-framed`` (fileexporter) or ``plain``."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if len(head) >= 8 and head[4:8] == ZSTD_MAGIC:
        return "zstd-framed"
    return "plain"


def _gzip_blocks(handle: BinaryIO) -> Iterator[bytes]:
    try:
        with gzip.GzipFile(fileobj=handle) as stream:
            while block := stream.read(READ_BYTES):
                yield block
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"corrupt gzip: {exc}") from None


def _zstd_blocks(handle: BinaryIO) -> Iterator[bytes]:
    """Concatenated zstd frames; a frame cut short is an error (the stream reader hides it)."""
    decompressor = zstandard.ZstdDecompressor()
    dobj = decompressor.decompressobj()
    started = False
    try:
        while block := handle.read(READ_BYTES):
            while block:
                started = True
                out = dobj.decompress(block)
                if out:
                    yield out
                if not dobj.eof:
                    break
                block = dobj.unused_data
                dobj = decompressor.decompressobj()
                started = False
    except zstandard.ZstdError as exc:
        raise SourceError(f"corrupt zstd: {exc}") from None
    if started and not dobj.eof:
        raise SourceError("corrupt zstd: the stream ends inside a frame (truncated file)")


def _framed_records(handle: BinaryIO) -> Iterator[bytes]:
    """fileexporter ``compression: zstd``: per message a 4-byte big-endian length, then a zstd frame."""
    decompressor = zstandard.ZstdDecompressor()
    number = 0
    while header := handle.read(4):
        number += 1
        if len(header) < 4:
            raise SourceError(f"corrupt zstd frames: truncated length prefix of frame {number}")
        (length,) = struct.unpack(">I", header)
        frame = handle.read(length)
        if len(frame) < length:
            raise SourceError(f"corrupt zstd frames: frame {number} is truncated")
        try:
            dobj = decompressor.decompressobj()
            message = dobj.decompress(frame)
        except zstandard.ZstdError as exc:
            raise SourceError(f"corrupt zstd frames: frame {number}: {exc}") from None
        if not dobj.eof:
            raise SourceError(f"corrupt zstd frames: frame {number} is incomplete")
        # A message is one compact JSON document; newlines inside would only be whitespace.
        yield message.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n"


def _blocks(handle: BinaryIO, compression: str) -> Iterator[bytes]:
    if compression == "gzip":
        return _gzip_blocks(handle)
    if compression == "zstd":
        return _zstd_blocks(handle)
    if compression == "zstd-framed":
        return _framed_records(handle)
    return iter(lambda: handle.read(READ_BYTES), b"")


def _chunk(data: bytes, first_line: int) -> Chunk:
    """Split complete lines (``data`` ends with a newline) into records, skipping blank lines."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10).astype(np.int64) + 1
    starts = np.empty(len(ends) + 1, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends
    line_nos = np.arange(first_line, first_line + len(ends), dtype=np.int64)
    short = np.flatnonzero(np.diff(starts) <= 8)
    blank = [i for i in short if not data[starts[i] : starts[i + 1]].strip()]
    if blank:
        keep = np.ones(len(ends), dtype=bool)
        keep[blank] = False
        pieces = [data[starts[i] : starts[i + 1]] for i in np.flatnonzero(keep)]
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        starts = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        return Chunk(b"".join(pieces), starts, line_nos[keep])
    return Chunk(data, starts, line_nos)


def _peek(blocks: Iterator[bytes]) -> bytes:
    """Read until two lines are complete (or the chunk size, or the end)."""
    head = b""
    for block in blocks:
        head += block
        if head.count(b"\n", 0, CHUNK_BYTES) >= 2 or len(head) >= CHUNK_BYTES:
            break
    return head


def _looks_like_document(head: bytes) -> bool:
    """One pretty-printed JSON document: it opens with `{` and neither of its first two lines
    is JSON on its own (a JSON lines file with a bad first line still has a good second).
    A JSON array (`[`) is one document unless both of its first two lines are JSON on their own
    (JSON lines opening with a bad `[1,2]` line): an array may be written on one line, or one
    element per line between `[` and `]`."""
    start = head.lstrip()[:1]
    if start not in (b"{", b"["):
        return False
    lines = [line for line in head.split(b"\n", 2)[:2] if line.strip()]
    if start == b"[":
        return not (len(lines) == 2 and all(_is_json(line) for line in lines))
    return not any(_is_json(line) for line in lines)


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def is_truncated(raw: bytes, exc: orjson.JSONDecodeError) -> bool:
    """The parser ran out of text mid-value: the JSON was cut short, not malformed.

    (A cut JSON line reads as "unexpected control character" when the cut falls inside
    a string, because the line's newline then ends the string: position says more.)"""
    return exc.pos >= len(raw.decode("utf-8", errors="replace").rstrip())


def json_error(raw: bytes, exc: orjson.JSONDecodeError, what: str = "record") -> str:
    """One line for JSON that does not parse; "truncated" when it stops mid-value."""
    if is_truncated(raw, exc):
        return (
            f"truncated JSON: the {what} stops mid-value after {len(raw.rstrip())} bytes "
            "(the file was cut short, or was still being written)"
        )
    return f"invalid JSON{' document' if what == 'document' else ''}: {exc}"


def _has_json_lines(data: bytes, sample: int = 200) -> bool:
    """Some of the first lines are JSON on their own: JSON lines whose first two lines were
    bad, to be reported line by line. A pretty-printed document's lines are fragments."""
    head = data[: 1 << 20].split(b"\n", sample)[:sample]  # not a split of the whole file
    lines = (line for line in head if line.strip())
    return any(map(_is_json, lines))


def _whole(blocks: Iterator[bytes], head: bytes) -> bytes:
    parts = [head]
    size = len(head)
    for block in blocks:
        parts.append(block)
        size += len(block)
        if size > MAX_DOCUMENT_BYTES:
            raise SourceError(
                f"one JSON document larger than {MAX_DOCUMENT_BYTES >> 20} MiB cannot be streamed;"
                " write JSON lines (one message per line) instead"
            )
    return b"".join(parts)


def _unwrap(message: object) -> object:
    """Jaeger's API (api/v3) answers ``{"result": <TracesData>}``: the message is the result."""
    if isinstance(message, dict) and len(message) == 1:
        inner = message.get("result")
        if isinstance(inner, dict):
            return inner
    return message


def _document_records(document: object) -> bytes:
    """The records of one parsed document: itself, or each element of an array, one per line."""
    if isinstance(document, list):
        return b"".join(orjson.dumps(_unwrap(element)) + b"\n" for element in document)
    return orjson.dumps(_unwrap(document)) + b"\n"


_WRAPPED = re.compile(rb'\A\s*\{\s*"result"\s*:')


def _unwrap_records(chunk: Chunk) -> Chunk:
    """Unwrap Jaeger-wrapped records of a chunk; a chunk without any is returned as it is."""
    if b'"result"' not in chunk.data:  # the common case costs one scan
        return chunk
    pieces = []
    changed = False
    for i in range(len(chunk.line_nos)):
        raw = chunk.data[chunk.starts[i] : chunk.starts[i + 1]]
        if _WRAPPED.match(raw):
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError:
                message = None  # left as it is: the parser reports it
            inner = _unwrap(message)
            if inner is not message:
                raw = orjson.dumps(inner) + b"\n"
                changed = True
        pieces.append(raw)
    if not changed:
        return chunk
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    starts = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return Chunk(b"".join(pieces), starts, chunk.line_nos)


def _line_chunks(blocks: Iterable[bytes]) -> Iterator[Chunk]:
    parts: list[bytes] = []  # joined once per chunk: growing one bytes object copies quadratically
    size = 0
    first_line = 1
    for block in blocks:
        parts.append(block)
        size += len(block)
        cut = block.rfind(b"\n") + 1 if size >= CHUNK_BYTES else 0
        if cut == 0:
            continue  # below the chunk size, or a line longer than it: keep reading
        parts[-1] = block[:cut]
        data = b"".join(parts)
        parts = [block[cut:]]
        size = len(parts[0])
        yield _chunk(data, first_line)
        first_line += data.count(b"\n")
    pending = b"".join(parts)
    if pending.strip():
        if not pending.endswith(b"\n"):
            pending += b"\n"
        yield _chunk(pending, first_line)


def read_decompressed(path: Path) -> bytes:
    """A whole file's bytes, gunzipped or un-zstd'ed as its magic says (a byte-order mark
    dropped); raises SourceError if it cannot be decoded. For small files (label files)."""
    with path.open("rb") as handle:
        compression = detect_compression(handle.read(8))
        handle.seek(0)
        return b"".join(_blocks(handle, compression)).removeprefix(UTF8_BOM)


def read_chunks(path: Path) -> Iterator[Chunk]:
    """Stream the records of a file in chunks; raises SourceError if it cannot be decoded."""
    chunks = _raw_chunks(path)
    try:
        for chunk in chunks:
            yield _unwrap_records(chunk)
    finally:
        chunks.close()  # a caller that stops early (batching peeks at two chunks) closes the file


def _raw_chunks(path: Path) -> Iterator[Chunk]:
    with path.open("rb") as handle:
        compression = detect_compression(handle.read(8))
        handle.seek(0)
        blocks = _blocks(handle, compression)
        if compression != "zstd-framed":
            # A byte-order mark (Windows tools write one) is not JSON: drop it.
            head = _peek(blocks).removeprefix(UTF8_BOM)
            if _looks_like_document(head):
                whole = _whole(blocks, head)
                try:
                    records = _document_records(orjson.loads(whole))
                except orjson.JSONDecodeError as exc:
                    if _has_json_lines(whole):  # JSON lines whose first lines are bad
                        yield from _line_chunks([whole])
                        return
                    # One document: its lines are fragments, so a per-line report would
                    # list every line; the file is set aside whole, with one reason.
                    raise SourceError(json_error(whole, exc, "document")) from None
                # An array's records are numbered by element (its "line" in quarantine reports).
                yield from _line_chunks([records])
                return
            blocks = itertools.chain([head], blocks)
        yield from _line_chunks(blocks)
