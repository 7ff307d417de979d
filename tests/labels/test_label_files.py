"""`fleetsignals label`: formats, tolerance, quarantine, idempotency, as-of landing time."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import orjson
import pytest
import zstandard

from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home

RUN = "0123456789abcdef0123456789abcdef"


def landed(home: Home) -> list[dict]:
    if not list(home.labels.glob("*/*.parquet")):
        return []
    with duckdb.connect() as con:
        cursor = con.execute(
            "select * from read_parquet(?, hive_partitioning = false) order by label_id",
            [str(home.labels / "*" / "*.parquet")],
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_csv_and_json_lines_land_with_their_fields(tmp_path: Path, home: Home, run_cli) -> None:
    csv_file = tmp_path / "judge.csv"
    csv_file.write_text(
        "run_id,name,score,label,source,given_at,comment\n"
        f'{RUN.upper()},helpfulness,0.25,Fail,judge:gpt-4o,2026-11-01T00:10:00Z,"too short, wrong"\n'
    )
    jsonl = tmp_path / "feedback.jsonl"
    jsonl.write_bytes(
        orjson.dumps({"traceId": "ASNFZ4mrze8BI0VniavN7w==", "spanId": "0123456789ABCDEF",
                      "scoreName": "thumbs", "label": "thumbs_down", "source": "human",
                      "timestamp": 1793491200, "annotator": "ann", "extra": [1]}) + b"\n"
    )  # fmt: skip
    result = run_cli("label", str(csv_file), str(jsonl))
    assert result.exit_code == 0, result.output
    assert "2 file(s) landed, 2 label(s)" in result.output
    rows = landed(home)
    by_name = {r["name"]: r for r in rows}
    judge, human = by_name["helpfulness"], by_name["thumbs"]
    assert judge["run_id"] == RUN and judge["score"] == 0.25 and judge["label"] == "fail"
    assert judge["source"] == "judge:gpt-4o" and judge["comment"] == "too short, wrong"
    assert str(judge["given_at"]) == "2026-11-01 00:10:00"
    # base64 trace id, upper-case span id, unix seconds, an unknown key ignored
    assert human["run_id"] == RUN and human["span_id"] == "0123456789abcdef"
    assert str(human["given_at"]) == "2026-11-01 00:00:00" and human["annotator"] == "ann"
    assert judge["landed_at"] == human["landed_at"]


def test_compressed_files_land(tmp_path: Path, home: Home, run_cli) -> None:
    line = orjson.dumps({"run_id": RUN, "name": "correct", "score": 1}) + b"\n"
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(line))
    (tmp_path / "b.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(line.replace(b"1}", b"0}"))
    )
    result = run_cli("label", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert sorted(r["score"] for r in landed(home)) == [0.0, 1.0]
    assert {r["source"] for r in landed(home)} == {"unspecified"}


def test_bad_rows_are_quarantined_and_the_rest_lands(tmp_path: Path, home: Home, run_cli) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "run_id,name,score,label\n"
        f"{RUN},helpfulness,0.9,\n"  # line 2: fine
        "not-a-trace,helpfulness,0.9,\n"  # 3: bad id
        f"{RUN},,0.9,\n"  # 4: no name
        f"{RUN},helpfulness,,\n"  # 5: neither score nor label
        f"{RUN},helpfulness,high,\n"  # 6: score not a number
        f"{RUN},helpfulness,nan,\n"  # 7: not finite
    )
    result = run_cli("label", str(path))
    assert result.exit_code == 1
    assert "1 label(s)" in result.output and "5 row(s) rejected" in result.output
    assert len(landed(home)) == 1
    reason = orjson.loads(next(home.quarantine.glob("mixed.csv.*.reason.json")).read_bytes())
    assert [p["line"] for p in reason["first_problems"]] == [3, 4, 5, 6, 7]
    rejects = next(home.quarantine.glob("mixed.csv.*.rejects.jsonl")).read_text().splitlines()
    assert "not-a-trace" in rejects[0]


def test_hostile_and_broken_files_are_quarantined_whole(
    tmp_path: Path, home: Home, run_cli
) -> None:
    (tmp_path / "noheader.csv").write_text(f"{RUN},helpfulness,0.9\n")
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "truncated.jsonl.gz").write_bytes(gzip.compress(b'{"run_id": "x"}\n' * 50)[:30])
    future = tmp_path / "future.jsonl"
    future.write_bytes(
        orjson.dumps({"run_id": RUN, "name": "n", "score": 1, "given_at": "2200-01-01T00:00:00Z"})
    )
    result = run_cli("label", str(tmp_path))
    assert result.exit_code == 1
    assert landed(home) == []
    reasons = {
        p.name.split(".")[0]: orjson.loads(p.read_bytes())
        for p in home.quarantine.glob("*.reason.json")
    }
    assert set(reasons) == {"noheader", "binary", "truncated", "future"}
    assert "header" in reasons["noheader"]["error"]
    assert "UTF-8" in reasons["binary"]["error"]
    assert "max_future" in reasons["future"]["error"]


def test_landing_twice_adds_nothing(tmp_path: Path, home: Home, run_cli) -> None:
    path = tmp_path / "l.csv"
    path.write_text(f"run_id,name,label\n{RUN},thumbs,bad\n")
    assert run_cli("label", str(path)).exit_code == 0
    copy = tmp_path / "copy.csv"
    copy.write_bytes(path.read_bytes())
    again = run_cli("label", str(path), str(copy))
    assert again.exit_code == 0
    assert "0 file(s) landed" in again.output and "2 already landed" in again.output
    assert len(landed(home)) == 1


def test_landed_at_is_recorded_and_never_in_the_future(tmp_path: Path, home: Home, run_cli) -> None:
    path = tmp_path / "l.csv"
    path.write_text(f"run_id,name,label\n{RUN},thumbs,bad\n")
    with pytest.raises(FleetsignalsError, match="in the future"):
        run_cli("label", "--landed-at", "2300-01-01T00:00:00Z", str(path))
    result = run_cli("label", "--landed-at", "2026-11-01T02:00:00Z", str(path))
    assert result.exit_code == 0, result.output
    (row,) = landed(home)
    assert str(row["landed_at"]) == "2026-11-01 02:00:00"
    assert str(row["given_at"]) == "2026-11-01 02:00:00"  # not given: counts as given on landing
    assert (home.labels / "dt=2026-11-01").is_dir()


def test_a_killed_landing_leaves_nothing_visible_and_is_redone(
    tmp_path: Path, home: Home, run_cli
) -> None:
    path = tmp_path / "l.csv"
    path.write_text(f"run_id,name,label\n{RUN},thumbs,bad\n")
    # What a run killed before its rename leaves: a temporary file, no manifest line.
    stale = home.labels / "dt=2026-11-01" / ".0123.parquet.tmp-999"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a parquet file")
    assert landed(home) == []
    assert run_cli("label", str(path)).exit_code == 0
    assert not stale.exists() and len(landed(home)) == 1
