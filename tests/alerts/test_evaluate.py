"""`fleetsignals evaluate` and `backtest` on a real snapshot: state, output, isolation."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.definitions import Signal
from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.alerts.evaluation import evaluate_signal
from fleetsignals.snapshot import connect_snapshot
from fleetsignals.timeutil import format_time
from tests.fixtures.alertfixtures import COSTLY_SETTINGS, COSTLY_SQL, T0, write_signal


def at(minutes: int) -> str:
    return format_time(T0 + timedelta(minutes=minutes))


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.fixture
def costly(signal_dir: Path, make_config, snapshot):
    write_signal(signal_dir, "costly", COSTLY_SQL, COSTLY_SETTINGS)
    return make_config


def hold_for(signal_dir: Path, duration: str) -> None:
    write_signal(signal_dir, "costly", COSTLY_SQL, {**COSTLY_SETTINGS, "for": duration})


def test_evaluate_prints_firing_instances_as_json(costly, run_cli) -> None:
    config, _ = costly()
    quiet = run_cli("evaluate", "--at", at(240), "--format", "json", config=config)
    assert quiet.exit_code == 0, quiet.output
    assert lines(quiet.output) == []
    result = run_cli("evaluate", "--at", at(250), "--format", "json", config=config)
    assert result.exit_code == 0, result.output
    (record,) = lines(result.output)
    assert record["signal"] == "costly"
    assert record["severity"] == "critical"
    assert record["state"] == "firing"
    assert record["eval_at"] == "2026-11-20T04:10:00Z"
    assert record["labels"] == {"tenant_id": "t2"}
    # runs ended in (03:40, 04:10]: 20 before the jump (cost ~1.0x), 10 after (cost ~5.0x)
    assert record["value"] == pytest.approx((20 * 1.0 + 10 * 5.0 + 6 * 0.1) / 30, abs=0.01)
    assert record["summary"].startswith("t2: average cost 2.3")
    assert record["summary"].endswith("over 30 runs")


def test_state_persists_between_invocations(costly, run_cli, signal_dir) -> None:
    config, _ = costly()
    hold_for(signal_dir, "10m")
    states = []
    for minutes in (250, 255, 260, 265):
        result = run_cli("evaluate", "--at", at(minutes), "--format", "json", config=config)
        assert result.exit_code == 0, result.output
        states.append([r["state"] for r in lines(result.output)])
    assert states == [["pending"], ["pending"], ["firing"], ["firing"]]


def test_table_output(costly, run_cli) -> None:
    config, _ = costly()
    result = run_cli("evaluate", "--at", at(250), config=config)
    assert result.exit_code == 0
    header, row = result.output.splitlines()
    assert header.split() == ["SIGNAL", "SEVERITY", "STATE", "LABELS", "VALUE", "SUMMARY"]
    assert row.split()[:4] == ["costly", "critical", "firing", "tenant_id=t2"]


def test_live_and_backtest_give_the_same_instances(costly, run_cli, signal_dir) -> None:
    config, _ = costly()
    hold_for(signal_dir, "10m")
    live = []
    for minutes in range(230, 300, 5):
        result = run_cli("evaluate", "--at", at(minutes), "--format", "json", config=config)
        assert result.exit_code == 0, result.output
        live += lines(result.output)
    replay = run_cli(
        "backtest", "--start", at(230), "--end", at(295), "--format", "json", config=config
    )
    assert replay.exit_code == 0, replay.output
    assert lines(replay.output) == live
    assert {r["state"] for r in live} == {"pending", "firing"}


def test_backtest_table_lists_episodes(costly, run_cli) -> None:
    config, _ = costly()
    result = run_cli("backtest", "--start", at(200), "--end", at(420), config=config)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "45 steps, 1 signals, 1 firing episodes" in text
    row = text.splitlines()[-1].split()
    # fires at 04:10; the last runs end 06:00 so the 30-minute window empties by 06:30
    assert row[:5] == ["costly", "critical", "tenant_id=t2", at(250), at(390)]


def test_backtest_writes_no_state_and_notifies_nobody(costly, run_cli, home, tmp_path) -> None:
    sink = tmp_path / "notes.jsonl"
    config, _ = costly(notify=[{"type": "file", "path": str(sink)}])
    result = run_cli("backtest", "--start", at(240), "--end", at(300), config=config)
    assert result.exit_code == 0
    assert not sink.exists()
    assert not (home.alerts / "state.sqlite").exists()


def test_a_failing_signal_is_reported_and_others_still_run(costly, run_cli, signal_dir) -> None:
    # Loads fine (binds), fails when run: the cast error only happens on real rows.
    write_signal(
        signal_dir,
        "broken",
        "select tenant_id, cast(tenant_id as integer) as value from fct_runs "
        "where ended_at <= $eval_at group by tenant_id",
    )
    write_signal(signal_dir, "wrong_shape", "select 'x' as agent_name")
    config, _ = costly()
    result = run_cli("evaluate", "--at", at(250), "--format", "json", config=config)
    assert result.exit_code == 1
    assert [r["signal"] for r in lines(result.stdout)] == ["costly"]
    assert "signal broken: Conversion Error" in result.stderr
    assert (
        "wrong_shape.sql: signal wrong_shape: the query must return a numeric column"
        in result.stderr
    )
    assert "2 signal(s) failed" in str(result.exception)


def test_a_signal_cannot_change_data(home, snapshot, run_cli, signal_dir, make_config) -> None:
    # Caught at load time...
    write_signal(signal_dir, "vandal", "delete from fct_runs where ended_at < $eval_at")
    config, _ = make_config()
    result = run_cli("evaluate", "--at", at(250), config=config)
    assert result.exit_code == 1
    assert "refused: a signal must be one select query, this is DELETE" in result.stderr
    # ...and, were it to get through, by the read-only snapshot connection.
    sneaky = Signal("vandal", Path("v.sql"), "delete from fct_runs")
    with connect_snapshot(home) as con:
        evaluation = evaluate_signal(con, sneaky, T0)
        assert "read-only" in evaluation.error
        assert con.execute("select count(*) from fct_runs").fetchone()[0] == 1080


def test_null_labels_are_dropped(home, snapshot, signal_dir) -> None:
    sql = "select null::varchar as tenant_id, 'a' as agent_name, '' as model, 1.5 as value"
    write_signal(signal_dir, "nulls", sql)
    signal = Signal("nulls", signal_dir / "nulls.sql", sql)
    with connect_snapshot(home) as con:
        (sample,) = evaluate_signal(con, signal, T0).samples
    assert sample.labels == {"agent_name": "a"}
    assert sample.value == 1.5


def test_duplicate_label_sets_fail_the_signal(home, snapshot) -> None:
    signal = Signal("dup", Path("d.sql"), "select 'a' as x, 1 as value union all select 'a', 2")
    with connect_snapshot(home) as con:
        evaluation = evaluate_signal(con, signal, T0)
    assert "two rows have the same labels" in evaluation.error


def test_slow_signal_times_out(home, snapshot) -> None:
    slow = Signal("slow", Path("s.sql"), "select count(*) as value from range(100000000000)")
    with connect_snapshot(home) as con:
        evaluation = evaluate_signal(con, slow, T0, timeout=0.3)
        assert "timed out after 0.3s" in evaluation.error
        assert con.execute("select 1").fetchone() == (1,)  # the connection stays usable


def test_evaluating_before_the_state_is_refused(costly, run_cli) -> None:
    config, _ = costly()
    assert run_cli("evaluate", "--at", at(250), config=config).exit_code == 0
    result = run_cli("evaluate", "--at", at(200), config=config)
    assert result.exit_code == 1
    assert "look at the past with `fleetsignals evaluate --at" in result.stderr


def test_no_snapshot_is_a_clear_error(run_cli, signal_dir, make_config) -> None:
    config, _ = make_config()
    result = run_cli("evaluate", config=config)
    assert result.exit_code == 1
    assert "run `fleetsignals build` first" in str(result.exception)


def test_removed_signal_state_is_dropped_by_the_scheduler(costly, run_cli, signal_dir, home):
    config, loaded = costly()
    write_signal(signal_dir, "other", "select 'x' as k, 1 as value where $eval_at is not null")
    assert run_cli("evaluate", "--at", at(250), config=config).exit_code == 0
    (signal_dir / "costly.sql").unlink()

    def signals() -> set[str]:
        with sqlite3.connect(home.alerts / "state.sqlite") as con:
            return {row[0] for row in con.execute("select signal from instances")}

    # A one-off evaluate (perhaps with another config) leaves other signals' state alone...
    assert run_cli("evaluate", "--at", at(255), config=config).exit_code == 0
    assert signals() == {"costly", "other"}
    # ...the scheduler's cycle drops it.
    evaluate_live(home, loaded, T0 + timedelta(minutes=260), due_only=True, notify=False)
    assert signals() == {"other"}
