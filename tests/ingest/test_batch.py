"""Small files are parsed together; what lands, per file, is what landing them one by one gives."""

from __future__ import annotations

import gzip
import re

import orjson
import pytest

import fleetsignals.ingest.land
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.ingest.manifest import read_manifest
from tests.fixtures.ingest_inputs import (
    attr,
    jsonl,
    lake_rows,
    request,
    span,
    synthetic_lines,
    write,
)

YEAR_2200_NS = 7_258_118_400_000_000_000
LIMITS = "ingest: {attribute_value_length_limit: 100}"


def inbox(root):
    """Small files of every kind the batch must keep apart."""
    good, _ = synthetic_lines(300, seed=3)
    lines = good.splitlines()
    lines[2] = lines[2][:50]  # a truncated record in the middle of a file
    bad_json = b"\n".join(lines) + b"\n"
    spans = [span(9, 1), span(9, 2, duration_ns=-5)]  # the second ends before it starts
    files = {
        "a-good.jsonl": good,
        "b-bad-line.jsonl": bad_json,
        "c-empty.jsonl": b"",
        "d-corrupt.jsonl.gz": gzip.compress(good)[:-40],
        "e-copy.jsonl": good,  # the same content as a-good: lands once
        "f-not-otlp.jsonl": b'{"hello": "world"}\n',
        "g-bad-span.jsonl": jsonl([request(spans)]),
        "h-future-span.jsonl": jsonl([request([span(8, 1), span(8, 2, start_ns=YEAR_2200_NS)])]),
        "i-long-value.jsonl": jsonl([request([span(7, 1, attributes=[attr("a", "x" * 500)])])]),
    }
    for name, data in files.items():
        write(root / name, data)
    return root


def land_all(tmp_path, name, config, monkeypatch, batched: bool, limits: str = LIMITS):
    if not batched:
        monkeypatch.setattr(fleetsignals.ingest.land, "SMALL_FILE_BYTES", -1)  # every file alone
    home = Home(tmp_path / name)
    summary = land_paths([tmp_path / "inbox"], home, config(limits))
    rows = sorted(  # files b and a hold the same spans: order by source too
        ({k: v for k, v in r.items() if k != "landed_at"} for r in lake_rows(home)),
        key=lambda r: (r["trace_id"], r["span_id"], r["source_sha256"]),
    )
    entries = sorted(  # batched sources share files named after their batch
        (
            {k: v for k, v in e.items() if k not in ("landed_at", "files", "batch")}
            for e in read_manifest(home.manifest)
        ),
        key=lambda e: e["source"].rsplit("/", 1)[-1],  # a batch may finish its files out of order
    )
    rejects = {
        p.name: [
            (orjson.loads(x)["line"], re.split("[:(]", orjson.loads(x)["error"])[0].strip())
            for x in p.read_bytes().splitlines()
        ]
        for p in home.quarantine.glob("*.rejects.jsonl")
    }
    monkeypatch.undo()
    return summary, rows, entries, rejects


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "one-by-one"])
def test_small_files_land_apart(tmp_path, config, monkeypatch, batched) -> None:
    inbox(tmp_path / "inbox")
    summary, rows, entries, rejects = land_all(tmp_path, "home", config, monkeypatch, batched)
    home = Home(tmp_path / "home")
    assert (summary.files, summary.skipped, summary.quarantined) == (6, 1, 6)
    by_name = {e["source"].rsplit("/", 1)[-1]: e for e in entries}
    assert by_name["a-good.jsonl"]["spans"] == 300
    assert by_name["b-bad-line.jsonl"]["spans"] == 300 - 50
    assert by_name["c-empty.jsonl"]["spans"] == 0
    assert by_name["d-corrupt.jsonl.gz"]["status"] == "quarantined"
    assert by_name["f-not-otlp.jsonl"]["status"] == "quarantined"
    assert by_name["g-bad-span.jsonl"]["spans"] == 1
    assert by_name["h-future-span.jsonl"]["spans"] == 1
    assert (by_name["i-long-value.jsonl"]["spans"], by_name["i-long-value.jsonl"]["cut"]) == (1, 1)
    assert "e-copy.jsonl" not in by_name
    assert sorted(rejects.values()) == [  # lines and kinds of the bad records and spans
        [(1, "attributes cut in the lake")],
        [(1, "end before start")],
        [(1, "end time in the future")],
        [(3, "truncated JSON")],
    ]
    assert len(rows) == 300 + 250 + 1 + 1 + 1
    files = {e["source"].rsplit("/", 1)[-1]: e["files"] for e in read_manifest(home.manifest)}
    with_rows = [tuple(f) for f in files.values() if f]
    # Batched, the five sources with spans share one file (one batch, one hour); alone,
    # each has its own.
    assert len(set(with_rows)) == (1 if batched else 5)
    landed = {f for f in (home.lake).rglob("*.parquet")}
    assert len(landed) == len(set(with_rows))


@pytest.mark.parametrize("batch_bytes", [None, 20_000], ids=["one-batch", "several-batches"])
def test_batched_equals_one_by_one(tmp_path, config, monkeypatch, batch_bytes) -> None:
    inbox(tmp_path / "inbox")
    if batch_bytes:
        monkeypatch.setattr(fleetsignals.ingest.land, "BATCH_BYTES", batch_bytes)
    batched = land_all(tmp_path, "batched", config, monkeypatch, True)
    alone = land_all(tmp_path, "alone", config, monkeypatch, False)
    for got, expected in zip(batched[1:], alone[1:], strict=True):
        assert got == expected


def test_split_keeps_each_files_rows_in_order() -> None:
    """The batch's rows go back to their files as a filter per file would give them, also
    when the query hands them back out of file order (DuckDB's threads may)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from fleetsignals.ingest.batch import _SHIFT, _split

    rng = np.random.default_rng(7)
    owners = rng.integers(0, 5, 400)  # file 3 of 6 has no rows (nor file 5)
    owners[owners == 3] = 4
    lines = rng.integers(1, 1 << 20, 400)
    table = pa.table(
        {"line_no": pa.array((owners << _SHIFT) + lines, pa.int64()), "row": np.arange(400)}
    )
    mask = (1 << _SHIFT) - 1
    parts = _split(table, 6, mask)
    assert len(parts) == 6
    for at, part in enumerate(parts):
        expected = table.filter(pa.array(owners == at))
        expected = expected.set_column(0, "line_no", pc.bit_wise_and(expected["line_no"], mask))
        assert part.to_pylist() == expected.to_pylist()
    assert [p.num_rows for p in parts][3] == 0
    in_order = table.take(pa.array(np.argsort(owners, kind="stable")))
    assert [p.to_pylist() for p in _split(in_order, 6, mask)] == [p.to_pylist() for p in parts]


def test_batched_equals_one_by_one_on_sample_files(tmp_path, config, monkeypatch) -> None:
    """The repository's sample files (every dialect and export shape, bad ones included)
    and small files of the bench's shape (lines of 64 spans, 320 spans a file), landed
    batched and one by one: the same rows, manifest lines and rejects."""
    import shutil
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data"
    for folder in ("otlp-samples", "dialects"):
        shutil.copytree(data / folder, tmp_path / "inbox" / folder)
        readme = tmp_path / "inbox" / folder / "README.md"  # names must differ (land_all sorts)
        readme.rename(readme.with_name(f"{folder}-README.md"))
    lines = synthetic_lines(3200, per_line=64, seed=11)[0].splitlines(keepends=True)
    for n in range(10):
        write(tmp_path / "inbox" / "small" / f"{n:03d}.jsonl", b"".join(lines[5 * n : 5 * n + 5]))
    monkeypatch.setattr(fleetsignals.ingest.land, "BATCH_BYTES", 100_000)  # several batches
    batched = land_all(tmp_path, "batched", config, monkeypatch, True, limits="")
    alone = land_all(tmp_path, "alone", config, monkeypatch, False, limits="")
    # Spans landed, and files quarantined whole (not OTLP) to compare too.
    assert len(batched[1]) > 3200 and any(e["status"] == "quarantined" for e in batched[2])
    for got, expected in zip(batched[1:], alone[1:], strict=True):
        assert got == expected
