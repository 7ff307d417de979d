"""`retain` end to end on a real lake and snapshot: decisions, pruning, compaction, safety."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest
import yaml

from fleetsignals.config import load_config
from fleetsignals.home import Home
from fleetsignals.retention import retain
from tests.fixtures.retention_lakes import lake_spans, publish_runs, synthetic_home

DRIVER = Path(__file__).with_name("retain_driver.py")
START = datetime(2026, 11, 26, 0, 0)
AT = START + timedelta(hours=4, minutes=10)  # ready before 03:10: hours 00-02 are decided


def _config(tmp_path: Path, **retention: object):
    path = tmp_path / "fleetsignals.yml"
    settings = {"reevaluate_signals": False, **retention}
    path.write_text(yaml.safe_dump({"retention": settings, "signal_dirs": [str(tmp_path)]}))
    return load_config(path)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "home"
    synthetic_home(root, START, hours=4)
    publish_runs(root)
    return root


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Home:
    shutil.copytree(template, tmp_path / "home")
    return Home(tmp_path / "home")


def _facts(home: Home) -> dict[str, tuple]:
    from fleetsignals.snapshot import connect_snapshot

    with connect_snapshot(home) as con:
        rows = con.execute(
            "select run_id, status, ended_at, agent_name, cost_usd from fct_runs"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _decisions(home: Home) -> dict[str, tuple[str, float]]:
    files = sorted(str(p) for p in (home.facts / "retention").glob("*.parquet"))
    if not files:
        return {}
    with duckdb.connect() as con:
        rows = con.execute(
            "select run_id, retention_reason, sample_weight from read_parquet($f)", {"f": files}
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_retain_keeps_what_the_rules_require_and_prunes_the_rest(
    home: Home, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    facts = _facts(home)
    before = lake_spans(home.lake)
    summary = retain(home, config, AT)
    decided = _decisions(home)
    ready = AT - timedelta(hours=1)
    # Decided: exactly the finished runs whose hour closed before at - grace.
    eligible = {
        r
        for r, (status, ended, *_) in facts.items()
        if status != "running"
        and ended is not None
        and ended.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1) <= ready
    }
    assert set(decided) == eligible and len(eligible) > 1000
    for run_id, (reason, weight) in decided.items():
        status = facts[run_id][0]
        if status in ("error", "timeout"):
            assert (reason, weight) == ("error", 1.0)
        assert (
            weight
            == {"error": 1.0, "cost_tail": 1.0, "anomaly": 1.0, "sampled": 10.0, "pruned": 0.0}[
                reason
            ]
        )
    # Per agent and hour, the most costly ceil(1 %) of runs are kept.
    groups: dict[tuple, list[tuple[float, str]]] = {}
    for run_id in eligible:
        _, ended, agent, cost = facts[run_id]
        groups.setdefault((agent, ended.replace(minute=0, second=0, microsecond=0)), []).append(
            (cost, run_id)
        )
    for members in groups.values():
        top = sorted(members, key=lambda m: (-m[0], m[1]))[: -(-len(members) // 100)]
        for _, run_id in top:
            assert decided[run_id][0] in ("error", "cost_tail")
    # Spans: pruned runs are gone, every other span is still there exactly once.
    after = lake_spans(home.lake)
    pruned = {r for r, (reason, _) in decided.items() if reason == "pruned"}
    assert after == {k: v for k, v in before.items() if k[1] not in pruned}
    assert all(v == 1 for v in after.values())
    assert summary.decided["pruned"].runs == len(pruned)
    assert summary.spans_pruned == sum(before.values()) - sum(after.values())
    assert summary.bytes_saved > 0
    # Closed partitions are compacted to one file; open ones are left to ingest.
    for part in sorted(home.lake.glob("dt=*/hr=*")):
        hour = int(part.name.split("=")[1])
        files = list(part.glob("*.parquet"))
        assert len(files) == (1 if hour < 3 else 6), part


def test_running_and_recent_runs_are_never_decided(home: Home, tmp_path: Path) -> None:
    facts = _facts(home)
    retain(home, _config(tmp_path), AT)
    decided = _decisions(home)
    running = {r for r, f in facts.items() if f[0] == "running"}
    assert running and not running & set(decided)
    recent = {r for r, f in facts.items() if f[1] and f[1] >= START + timedelta(hours=3)}
    assert recent and not recent & set(decided)
    spans = lake_spans(home.lake)
    assert all(any(k[1] == r for k in spans) for r in running)


def test_second_run_changes_nothing(home: Home, tmp_path: Path) -> None:
    config = _config(tmp_path)
    retain(home, config, AT)
    files = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in home.root.rglob("*.parquet")}
    again = retain(home, config, AT)
    assert sum(c.runs for c in again.decided.values()) == 0
    assert again.partitions_rewritten == 0 and again.bytes_saved == 0
    assert {
        p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in home.root.rglob("*.parquet")
    } == files


def test_dry_run_changes_nothing_and_predicts_the_real_run(home: Home, tmp_path: Path) -> None:
    config = _config(tmp_path)
    listing = sorted((p, p.stat().st_mtime_ns) for p in home.root.rglob("*") if p.is_file())
    dry = retain(home, config, AT, dry_run=True)
    assert sorted((p, p.stat().st_mtime_ns) for p in home.root.rglob("*") if p.is_file()) == listing
    real = retain(home, config, AT)
    assert dry.decided == real.decided
    assert dry.spans_pruned == real.spans_pruned
    assert dry.partitions_rewritten == real.partitions_rewritten
    assert dry.bytes_saved > 0 and real.bytes_saved > 0


def test_later_hours_and_late_files_are_handled_incrementally(home: Home, tmp_path: Path) -> None:
    config = _config(tmp_path)
    retain(home, config, AT)
    first = _decisions(home)
    pruned = sorted(r for r, (reason, _) in first.items() if reason == "pruned")
    kept = sorted(r for r, (reason, _) in first.items() if reason != "pruned")
    # A late file lands in a compacted partition, carrying spans of a pruned and a kept run.
    part = next(iter(sorted(home.lake.glob("dt=*/hr=00"))))
    compacted = pq.read_table(next(part.glob("*.parquet")))
    ids = compacted["trace_id"].to_pylist()
    keep_id = next(i for i in ids if i in set(kept))
    late = compacted.filter([i == keep_id for i in ids])
    # A span of a pruned run that ended in hour 00 lands again (a re-sent export).
    trashed = pq.read_table(sorted(home.root.glob("lake/_retention/trash/*/*.parquet")))
    stray = trashed.filter(
        [
            i in set(pruned) and end < START + timedelta(hours=1)
            for i, end in zip(
                trashed["trace_id"].to_pylist(), trashed["end_at"].to_pylist(), strict=True
            )
        ]
    ).slice(0, 1)
    assert stray.num_rows == 1
    pq.write_table(
        late.slice(0, 1).select(stray.schema.names).cast(stray.schema), part / "late-a.parquet"
    )
    pq.write_table(stray, part / "late-b.parquet")
    later = retain(home, config, AT + timedelta(hours=1))
    assert later.decided["pruned"].runs > 0  # hour 03 decided now
    assert len(list(part.glob("*.parquet"))) == 1
    spans = lake_spans(home.lake)
    assert not any(k[1] == stray["trace_id"][0].as_py() for k in spans)
    assert (
        spans[(part.relative_to(home.lake).as_posix(), keep_id, late["span_id"][0].as_py())] == 2
    )  # the same span landed twice stays twice


@pytest.mark.parametrize(
    "step",
    ["archived", "decided", "journaled:2", "staged:1", "swapped:2", "restored:3", "trashed:1"],
)
def test_killed_retain_leaves_a_whole_lake_and_a_rerun_converges(
    home: Home, tmp_path: Path, run_process, step: str
) -> None:
    config = tmp_path / "fleetsignals.yml"
    config.write_text(yaml.safe_dump({"retention": {"reevaluate_signals": False}}))
    reference = Home(tmp_path / "reference")
    shutil.copytree(home.root, reference.root)
    retain(reference, load_config(config), AT)
    expected = lake_spans(reference.lake)
    before = lake_spans(home.lake)
    args = ["--config", str(config), "retain", "--at", AT.isoformat()]
    killed = subprocess.run(
        [sys.executable, str(DRIVER), step, "--home", str(home.root), *args],
        capture_output=True,
        text=True,
        cwd=DRIVER.parents[2],  # where run_process runs the console script
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    seen = lake_spans(home.lake)
    # No span duplicated, none of a kept run lost, whatever the step.
    assert max(seen.values()) == 1
    assert set(expected) <= set(seen) <= set(before)
    done = run_process(*args)
    assert done.returncode == 0, done.stderr
    assert lake_spans(home.lake) == expected
    assert _decisions(home) == _decisions(reference)
    assert not list((home.root / "lake" / "_retention" / "journal").iterdir())
    assert os.listdir(home.root / "lake" / "_retention" / "stage") == []


def test_cli_prints_the_summary_and_refuses_bad_input(home: Home, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fleetsignals.cli import cli

    config = tmp_path / "fleetsignals.yml"
    config.write_text(yaml.safe_dump({"retention": {"reevaluate_signals": False}}))
    base = ["--home", str(home.root), "--config", str(config), "retain"]
    dry = CliRunner().invoke(cli, [*base, "--at", AT.isoformat(), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("dry run: nothing changed.")
    for reason in ("error", "cost_tail", "anomaly", "sampled", "pruned"):
        assert any(line.split()[:1] == [reason] for line in dry.output.splitlines())
    assert "bytes saved: ~" in dry.output
    assert not (home.facts / "retention").exists()
    bad = CliRunner().invoke(cli, [*base, "--at", "yesterday-ish"])
    assert bad.exit_code != 0 and "invalid time" in str(bad.exception)
    (home.snapshots / "CURRENT").unlink()
    missing = CliRunner().invoke(cli, [*base, "--at", AT.isoformat()])
    assert "run `fleetsignals build` first" in str(missing.exception)


def _label_bad(home: Home, count: int) -> list[str]:
    """Mark `count` ok runs that ended in hour 01 as labelled bad in the snapshot's fct_runs."""
    from tests.fixtures.retention_lakes import publish_runs as _publish

    path = _publish(home.root)
    with duckdb.connect(str(path)) as con:
        bad = [r[0] for r in con.execute(
            "select run_id from fct_runs where status = 'ok' and hour(ended_at) = 1 "
            "order by run_id limit ?", [count]).fetchall()]  # fmt: skip
        con.execute("update fct_runs set bad_label_count = 1 where list_contains(?, run_id)", [bad])
    return bad


def test_runs_labelled_bad_keep_their_spans(home: Home, tmp_path: Path) -> None:
    bad = _label_bad(home, 40)
    retain(home, _config(tmp_path), AT)
    decided = _decisions(home)
    assert {decided[r] for r in bad} == {("bad_label", 1.0)}
    kept = {t for _, t, _ in lake_spans(home.lake)}
    assert set(bad) <= kept


def test_label_wait_defers_decisions(home: Home, tmp_path: Path) -> None:
    # Waiting 3 h for labels: at 04:10 only runs of hours before 01:10 are decided.
    retain(home, _config(tmp_path, label_wait="3h"), AT)
    decided = _decisions(home)
    facts = _facts(home)
    assert decided and {facts[r][1].hour for r in decided} == {0}


def test_an_unrecorded_ingest_file_is_left_out_of_compaction(home: Home, tmp_path: Path) -> None:
    # A killed single-file run leaves <sha[:32]>.parquet without a manifest line; its rerun
    # overwrites it. Compacted, its rows would sit in retained-* beside the rerun's.
    config = _config(tmp_path)
    retain(home, config, AT)
    part = next(iter(sorted(home.lake.glob("dt=*/hr=00"))))
    rows = pq.read_table(next(part.glob("retained-*.parquet"))).slice(0, 1)
    dead = part / f"{'ab' * 16}.parquet"
    pq.write_table(rows, dead)
    pq.write_table(rows, part / "late-a.parquet")  # not ingest's name: compacted as before
    # Recorded: named by a line's files, or landed by a line from before lines named them.
    named, legacy = part / f"{'cd' * 16}.parquet", part / f"{'ef' * 16}.parquet"
    pq.write_table(rows, named)
    pq.write_table(rows, legacy)
    lines = [
        {
            "sha256": "cd" * 32,
            "status": "landed",
            "files": [named.relative_to(home.lake).as_posix()],
        },
        {"sha256": "ef" * 32, "status": "landed"},
    ]
    home.manifest.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    retain(home, config, AT + timedelta(hours=1))
    assert dead.exists() and pq.read_table(dead).equals(rows)
    assert not (part / "late-a.parquet").exists()
    assert not named.exists() and not legacy.exists()
    assert len(list(part.glob("retained-*.parquet"))) == 1


def test_sampling_by_spans_decides_the_same_whatever_the_batches(
    home: Home, template: Path, tmp_path: Path
) -> None:
    """A run's chance under sample_by: spans depends on its decision window, never on which
    retain decided it: hour by hour or all at once, the same runs keep the same weights,
    and each weight is 1 / chance from the run's facts."""
    config = _config(tmp_path, sample_by="spans")
    retain(home, config, AT - timedelta(hours=1))
    retain(home, config, AT)
    again = retain(home, config, AT)
    assert sum(c.runs for c in again.decided.values()) == 0
    other = Home(shutil.copytree(template, tmp_path / "other"))
    retain(other, config, AT)
    decided = _decisions(home)
    assert decided == _decisions(other)
    from fleetsignals.snapshot import connect_snapshot

    with connect_snapshot(home) as con:
        sizes = dict(con.execute("select run_id, span_count from fct_runs").fetchall())
    facts = _facts(home)
    inverse: dict[datetime, list[float]] = {}
    for run_id in decided:
        hour = facts[run_id][1].replace(minute=0, second=0, microsecond=0)
        inverse.setdefault(hour, []).append(1 / max(sizes[run_id], 1))
    harmonic = {hour: len(v) / sum(v) for hour, v in inverse.items()}
    assert len(harmonic) == 3 and len(set(sizes.values())) > 5
    for run_id, (reason, weight) in decided.items():
        if reason in ("sampled", "pruned"):
            hour = facts[run_id][1].replace(minute=0, second=0, microsecond=0)
            chance = min(1.0, 0.10 * harmonic[hour] / max(sizes[run_id], 1))
            assert weight == (pytest.approx(1 / chance) if reason == "sampled" else 0.0)
