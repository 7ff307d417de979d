"""How long a landing ingest waits for retention's publish lock during a partition rewrite.

    .venv/bin/python bench/publish_lock.py [--rows 1000000] [--files 20] [--lines 200000]

Writes one partition of ROWS spans in FILES ingest-named files, recorded in a manifest
of LINES lines (each naming four files: the index of a busy lake), and rewrites it as
`retain` does (fleetsignals/retention/job.py: inputs chosen under the exclusive lock,
compaction without it, the swap under it), alternated with the same rewrite under the
lock throughout. A prober thread takes the shared lock over and over, as ingest does
around each publish; printed: the rewrite's seconds and the prober's longest wait.
Figures, never pass/fail.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fleetsignals.ingest.batches import publishing  # noqa: E402
from fleetsignals.ingest.manifest import ManifestIndex  # noqa: E402
from fleetsignals.ingest.schema import SPAN_SCHEMA  # noqa: E402
from fleetsignals.retention import job  # noqa: E402
from fleetsignals.retention.rewrite import Workspace, rewrite_partition  # noqa: E402

PARTITION = "dt=2026-09-21/hr=14"


def _spans(rows: int) -> pa.Table:
    with duckdb.connect() as con:
        ids = con.sql(
            "select md5(i::varchar) as trace_id, left(md5('s' || i), 16) as span_id, "
            "1790000000000000000 + i * 1000 as start_ns from range($n) as t(i)",
            params={"n": rows},
        ).to_arrow_table()
    columns = [
        ids[f.name] if f.name in ids.column_names else pa.nulls(rows, f.type) for f in SPAN_SCHEMA
    ]
    return pa.Table.from_arrays(columns, schema=SPAN_SCHEMA)


def _lake(root: Path, rows: int, files: int, lines: int) -> tuple[Path, list[str]]:
    part = root / "lake" / "spans" / PARTITION
    part.mkdir(parents=True)
    table = _spans(rows)
    names = [f"{uuid.uuid4().hex}.parquet" for _ in range(files)]
    step = -(-rows // files)
    for k, name in enumerate(names):
        pq.write_table(table.slice(k * step, step), part / name, compression="zstd")
    entries = [
        {
            "sha256": uuid.uuid4().hex * 2,
            "status": "landed",
            "files": [f"dt=x/hr={i % 24}/{uuid.uuid4().hex}.parquet" for i in range(4)],
        }
        for _ in range(lines)
    ]
    entries[0]["files"] = [f"{PARTITION}/{n}" for n in names]
    manifest = root / "lake" / "manifest.jsonl"
    manifest.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in entries))
    return part, names


def _probe(lake_root: Path, stop: threading.Event, waits: list[float]) -> None:
    """An ingest's view: take the shared lock over and over, noting each wait."""
    while not stop.is_set():
        start = time.perf_counter()
        with publishing(lake_root):
            waits.append(time.perf_counter() - start)
        time.sleep(0.001)


def _rewrite(root: Path, args: argparse.Namespace, whole: bool) -> tuple[float, float, int]:
    """One rewrite as ``retain`` does it (or, ``whole``, under the lock throughout): its
    seconds, the longest wait of a prober for the shared lock, and the files chosen."""
    part, _ = _lake(root, args.rows, args.files, args.lines)
    lake = part.parents[1]
    index = ManifestIndex(root / "lake" / "manifest.jsonl").refresh()
    work = Workspace(lake.parent / "_retention").ensure()
    stop, waits = threading.Event(), [0.0]
    prober = threading.Thread(target=_probe, args=(lake.parent, stop, waits))
    prober.start()
    start = time.perf_counter()
    with duckdb.connect() as con, job._quiet(lake) if whole else nullcontext():
        con.execute("create table pruned (run_id varchar)")
        inputs = job._inputs(lake, part, index, dry_run=whole)  # dry: no second lock
        lock = nullcontext if whole else partial(job._quiet, lake)
        rewrite_partition(con, lake, part, inputs, "d", work, swap_lock=lock)
    seconds = time.perf_counter() - start
    stop.set()
    prober.join()
    return seconds, max(waits), len(inputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"{args.rows:,} spans in {args.files} files; a manifest of {args.lines:,} lines")
    for n in range(args.rounds):
        for whole in (True, False):  # alternated: the machine is shared and noisy
            with tempfile.TemporaryDirectory() as tmp:
                seconds, wait, files = _rewrite(Path(tmp), args, whole)
            how = "lock over the whole rewrite" if whole else "lock to choose and to swap"
            print(
                f"round {n + 1}, {how}: rewrite of {files} files {seconds:.2f}s, "
                f"longest ingest wait {1000 * wait:.1f} ms"
            )


if __name__ == "__main__":
    main()
