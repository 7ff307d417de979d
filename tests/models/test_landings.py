"""Incremental builds re-read, within landed_overlap, only landings no complete build
recorded (int_build_landings_recorded): runs already built are not recomputed, a file
renamed into the lake after a build read it is still built, a file out of sight for a
moment after the build recorded it is read again, and a killed build's landings are
read again."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from fleetsignals.config import Config
from fleetsignals.home import Home
from fleetsignals.warehouse import build, runner
from tests.fixtures.lakefiles import config_with, span, trace_id, write_spans
from tests.fixtures.warehouses import START, query

DRIVER = Path(__file__).with_name("build_driver.py")


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def land(home: Home, name: str, runs: list[str], start: float, landed: float) -> set[str]:
    """One source's file: a finished run (root and an LLM call) per name, the runs
    starting at minute ``start``, landed at minute ``landed``; returns their run ids."""
    rows = []
    for run in runs:
        common = {"source_sha256": name, "landed_at": at(landed)}
        rows.append(span(run, "root", at(start), 60, status_code="ok", operation="agent", **common))
        rows.append(span(run, "llm", at(start) + timedelta(seconds=5), 10, parent="root",
                         operation="llm", model="gpt-4o", input_tokens=100, **common))  # fmt: skip
    write_spans(home, rows, name)
    return {trace_id(run) for run in runs}


def latest_build(home: Home) -> tuple[str, bool]:
    with duckdb.connect(str(home.database), read_only=True) as con:
        return con.execute(
            "select build_id, is_complete from int_build_watermarks_recorded"
            " order by build_seq desc limit 1"
        ).fetchone()


def stamped(home: Home, build_id: str) -> set[str]:
    """The runs a build recomputed (int_runs_indexed rows carrying its id)."""
    with duckdb.connect(str(home.database), read_only=True) as con:
        rows = con.execute("select run_id from int_runs_indexed where build_id = ?", [build_id])
        return {run for (run,) in rows.fetchall()}


def built(home: Home) -> set[str]:
    return {run for (run,) in query(home, "select distinct run_id from fct_llm_calls")}


def first_build(tmp_path: Path, text: str = "") -> tuple[Home, Config, set[str]]:
    config = config_with(tmp_path, text)
    home = Home(tmp_path / "home").ensure()
    first = land(home, "first", ["a", "b", "c"], start=0, landed=5)
    build(home, config)
    return home, config, first


def test_runs_of_landings_already_built_are_not_recomputed(tmp_path: Path) -> None:
    home, config, first = first_build(tmp_path)
    # Lands a minute later, well inside the 10 minute overlap of the first build.
    second = land(home, "second", ["d", "e"], start=1, landed=6)
    build(home, config)
    build_id, complete = latest_build(home)
    assert complete
    assert stamped(home, build_id) == second
    assert built(home) == first | second


def test_a_file_renamed_in_after_a_build_read_the_lake_is_still_built(tmp_path: Path) -> None:
    home, config, first = first_build(tmp_path)
    # Stamped landed at minute 4, before the first file's minute 5, but renamed into the
    # lake only after the first build had read it (an ingest worker slower than another).
    late = land(home, "late", ["f", "g"], start=2, landed=4)
    build(home, config)
    build_id, _ = latest_build(home)
    assert stamped(home, build_id) == late
    assert built(home) == first | late


@pytest.mark.parametrize("model", ["int_runs_indexed", "int_spans_touched"])
def test_a_file_out_of_sight_after_the_recording_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    home, config, first = first_build(tmp_path)
    late = land(home, "late", ["f", "g"], start=2, landed=6)
    files = sorted(home.lake.rglob("late.parquet"))
    aside = tmp_path / "aside"
    # As retain does to a file landed into the hour it rewrites (docs/retention.md): out
    # of the lake from the moment `model` starts, after int_build_landings_recorded read
    # it, until the build ends; then moved back, same name and landed_at.
    counted = runner._Progress.__call__

    def call(self: runner._Progress, event: object) -> None:
        counted(self, event)
        info = event.info  # type: ignore[attr-defined]
        if info.name == "NodeStart" and event.data.node_info.node_name == model:  # type: ignore[attr-defined]
            for file in files:
                (aside / file.relative_to(home.lake)).parent.mkdir(parents=True, exist_ok=True)
                file.rename(aside / file.relative_to(home.lake))

    monkeypatch.setattr(runner._Progress, "__call__", call)
    build(home, config)
    monkeypatch.undo()
    assert not any(file.exists() for file in files)
    build_id, complete = latest_build(home)
    assert complete
    with duckdb.connect(str(home.database), read_only=True) as con:
        recorded = con.execute(
            "select count(*) from int_build_landings_recorded"
            " where build_id = ? and source_sha256 = 'late'",
            [build_id],
        ).fetchone()
    assert recorded == (0,)  # recorded by the first read, but not read through
    for file in files:
        (aside / file.relative_to(home.lake)).rename(file)
    build(home, config)
    build_id, complete = latest_build(home)
    assert complete
    assert stamped(home, build_id) == late
    assert built(home) == first | late


def test_a_killed_build_is_redone(tmp_path: Path) -> None:
    home, config, first = first_build(tmp_path)
    second = land(home, "second", ["d", "e"], start=1, landed=6)
    # Killed once int_runs_indexed stamped the new runs and the landings were recorded,
    # before the calls were built.
    killed = subprocess.run(
        [sys.executable, str(DRIVER), "int_runs_indexed", "build",
         "--home", str(home.root), "--config", str(tmp_path / "fleetsignals.yml")],
        capture_output=True, text=True, cwd=DRIVER.parents[2], timeout=300,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    killed_id, complete = latest_build(home)
    assert not complete and stamped(home, killed_id) == second
    build(home, config)
    build_id, complete = latest_build(home)
    assert complete and build_id != killed_id
    assert stamped(home, build_id) == second
    assert built(home) == first | second


def test_records_older_than_the_overlap_are_pruned(tmp_path: Path) -> None:
    home, config, _ = first_build(tmp_path)  # landed at minute 5
    land(home, "second", ["d"], start=20, landed=25)
    build(home, config)
    land(home, "third", ["e"], start=40, landed=45)
    build(home, config)  # looks for landings after minute 25 - 10
    with duckdb.connect(str(home.database), read_only=True) as con:
        kept = con.execute("select distinct landed_at from int_build_landings_recorded").fetchall()
    assert sorted(landed for (landed,) in kept) == [at(25), at(45)]
