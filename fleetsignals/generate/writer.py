"""Dump files as the Collector's file exporter leaves them: JSON lines, one file per
minute, optionally gzip or zstd; byte-identical for the same input.
"""

from __future__ import annotations

import gzip
import io
import struct
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import zstandard

from fleetsignals.errors import FleetsignalsError
from fleetsignals.files import write_atomic

# zst: one zstd stream; zst-framed: the Collector fileexporter's `compression: zstd`
# (per request a 4-byte big-endian length, then a zstd frame of the JSON message).
COMPRESSIONS = {"none": "", "gz": ".gz", "zst": ".zst", "zst-framed": ".zst"}
PATTERN = "traces-*.jsonl*"


def check_compression(compression: str) -> str:
    if compression not in COMPRESSIONS:
        raise FleetsignalsError(
            f"unknown compression {compression!r}: use one of {', '.join(COMPRESSIONS)}"
        )
    return compression


def clear_dumps(dumps: Path) -> None:
    """Remove dumps of an earlier generation, so OUT holds exactly this fleet."""
    try:
        dumps.mkdir(parents=True, exist_ok=True)
        for old in sorted(dumps.glob(PATTERN)):
            old.unlink()
    except OSError as exc:
        raise FleetsignalsError(
            f"cannot write the fleet to {dumps.parent}: {exc.strerror or exc}; "
            "choose a writable directory with --out"
        ) from None


def encode(lines: list[dict], compression: str) -> bytes:
    if compression == "zst-framed":
        zc = zstandard.ZstdCompressor(level=3)
        frames = (zc.compress(orjson.dumps(line)) for line in lines)
        return b"".join(struct.pack(">I", len(f)) + f for f in frames)
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    if compression == "gz":
        buf = io.BytesIO()
        # mtime=0 and no file name: the same content gives the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
            gz.write(data)
        return buf.getvalue()
    if compression == "zst":
        return zstandard.ZstdCompressor(level=3).compress(data)
    return data


def write_minute(
    dumps: Path, start: datetime, minute: int, lines: list[dict], compression: str
) -> Path:
    """Write one minute's file atomically (a reader never sees half a file)."""
    moment = start + timedelta(minutes=minute)
    path = dumps / f"traces-{moment:%Y%m%dT%H%M}.jsonl{COMPRESSIONS[compression]}"
    # Not fsynced: a generated fleet is made again from its seed, not recovered.
    write_atomic(
        path, encode(lines, compression), tmp=path.with_name(f".{path.name}.tmp"), durable=False
    )
    return path
