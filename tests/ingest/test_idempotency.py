"""Landing the same content twice adds nothing; the manifest records what landed and when."""

from __future__ import annotations

import shutil

import orjson

import fleetsignals.ingest.land
from fleetsignals.ingest.manifest import read_manifest
from tests.fixtures.ingest_inputs import jsonl, lake_rows, request, span, write

GOOD = [request([span(1, 0), span(1, 1)]), request([span(2, 2)])]


def test_same_file_twice(home, land, tmp_path) -> None:
    path = write(tmp_path / "a.jsonl", jsonl(GOOD))
    first = land(path)
    second = land(path)
    assert (first.files, first.spans, first.skipped) == (1, 3, 0)
    assert (second.files, second.spans, second.skipped) == (0, 0, 1)
    assert len(lake_rows(home)) == 3


def test_same_content_under_another_name(home, land, tmp_path) -> None:
    path = write(tmp_path / "a.jsonl", jsonl(GOOD))
    copy = tmp_path / "elsewhere" / "b.jsonl"
    copy.parent.mkdir()
    shutil.copyfile(path, copy)
    summary = land(path, copy)
    assert (summary.files, summary.skipped) == (1, 1)
    assert len(lake_rows(home)) == 3


def test_new_content_lands(home, land, tmp_path) -> None:
    path = write(tmp_path / "a.jsonl", jsonl(GOOD))
    land(path)
    path.write_bytes(jsonl(GOOD + [request([span(3, 3)])]))
    summary = land(path)
    assert summary.files == 1
    # A file rewritten with more content lands again whole: the lake holds both versions
    # (the warehouse dedupes on trace_id, span_id); the manifest holds both hashes.
    assert len(read_manifest(home.manifest)) == 2


def test_manifest_entry(home, land, tmp_path) -> None:
    path = write(tmp_path / "a.jsonl", jsonl(GOOD))
    land(path)
    (entry,) = read_manifest(home.manifest)
    import hashlib

    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["source"] == str(path.resolve())
    assert entry["status"] == "landed"
    assert entry["spans"] == 3
    assert entry["landed_at"].endswith("Z")
    (written,) = entry["files"]
    assert (home.lake / written).is_file()
    assert written.startswith("dt=") and written.endswith(".parquet")


def test_quarantined_file_recorded_and_not_retried(home, land, tmp_path) -> None:
    path = write(tmp_path / "bad.jsonl", b"garbage\n")
    assert land(path).quarantined == 1
    (entry,) = read_manifest(home.manifest)
    assert entry["status"] == "quarantined"
    again = land(path)
    assert (again.quarantined, again.skipped, again.quarantined_before) == (0, 0, 1)


def test_torn_manifest_line_is_tolerated(home, land, tmp_path) -> None:
    a = write(tmp_path / "a.jsonl", jsonl(GOOD[:1]))
    b = write(tmp_path / "b.jsonl", jsonl(GOOD[1:]))
    land(a)
    # A crash while appending b's line would leave a torn line: b did not land.
    line = orjson.dumps({"sha256": "x" * 64, "source": str(b), "spans": 1})
    with home.manifest.open("ab") as handle:
        handle.write(line[: len(line) // 2])
    fleetsignals.ingest.manifest._INDEXES.clear()  # a fresh process
    summary = land(b, a)
    assert (summary.files, summary.skipped) == (1, 1)
    entries = read_manifest(home.manifest)
    assert [e["source"] for e in entries] == [str(a.resolve()), str(b.resolve())]
    assert len(lake_rows(home)) == 3


def test_unchanged_files_are_not_hashed_again(home, land, tmp_path, monkeypatch) -> None:
    paths = [
        write(tmp_path / "inbox" / f"{i}.jsonl", jsonl([request([span(i + 1, i)])]))
        for i in range(5)
    ]
    land(tmp_path / "inbox")
    hashed = []
    real = fleetsignals.ingest.land.sha256_file
    monkeypatch.setattr(
        fleetsignals.ingest.land, "sha256_file", lambda p: hashed.append(p) or real(p)
    )
    fleetsignals.ingest.land._HASHES.clear()
    fleetsignals.ingest.manifest._INDEXES.clear()  # even a fresh process knows them from the manifest
    summary = land(tmp_path / "inbox")
    assert (summary.files, summary.skipped, hashed) == (0, 5, [])
    paths[0].write_bytes(paths[0].read_bytes() + b"\n")  # changed: hashed again, same spans
    summary = land(tmp_path / "inbox")
    assert [p.name for p in hashed] == ["0.jsonl"]
    assert summary.files == 1


def test_home_itself_is_not_ingested(home, land, tmp_path) -> None:
    land(write(tmp_path / "a.jsonl", jsonl(GOOD)))
    land(write(tmp_path / "bad.jsonl", b"nope\n"))
    summary = land(home.root)  # the lake's Parquet files and the quarantine are not input
    assert (summary.files, summary.skipped, summary.quarantined) == (0, 0, 0)
