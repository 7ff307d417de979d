"""The alert state's lifecycle: inspect it, reset it, and look at the past without it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.state import state_path
from fleetsignals.timeutil import format_time
from tests.fixtures.alertfixtures import COSTLY_SETTINGS, COSTLY_SQL, T0, write_signal


def at(minutes: int) -> str:
    return format_time(T0 + timedelta(minutes=minutes))


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.fixture
def config(signal_dir: Path, make_config, snapshot, tmp_path: Path) -> Path:
    write_signal(signal_dir, "costly", COSTLY_SQL, COSTLY_SETTINGS)
    path, _ = make_config(notify=[{"type": "file", "path": str(tmp_path / "notes.jsonl")}])
    return path


def show(run_cli, config: Path) -> list[dict]:
    result = run_cli("state", "show", "--format", "json", config=config)
    assert result.exit_code == 0, result.output
    return lines(result.stdout)


def test_past_time_after_a_live_evaluate_is_refused_with_a_way_out(run_cli, config) -> None:
    assert run_cli("evaluate", config=config).exit_code == 0  # now: the data is all past
    result = run_cli("evaluate", "--at", at(250), config=config)
    assert result.exit_code == 1
    assert "--dry-run" in result.stderr and "state reset --signal costly" in result.stderr


def test_dry_run_looks_at_the_past_and_changes_nothing(run_cli, config, home, tmp_path) -> None:
    assert run_cli("evaluate", config=config).exit_code == 0
    before = show(run_cli, config)
    result = run_cli("evaluate", "--at", at(250), "--dry-run", "--format", "json", config=config)
    assert result.exit_code == 0, result.output
    (record,) = lines(result.stdout)
    assert (record["state"], record["labels"]) == ("firing", {"tenant_id": "t2"})
    assert "costly evaluated from no state" in result.stderr
    assert show(run_cli, config) == before
    assert not (tmp_path / "notes.jsonl").exists()


def test_dry_run_continues_from_the_persisted_state(run_cli, signal_dir, config) -> None:
    write_signal(signal_dir, "costly", COSTLY_SQL, {**COSTLY_SETTINGS, "for": "10m"})
    assert run_cli("evaluate", "--at", at(250), config=config).exit_code == 0  # pending
    result = run_cli("evaluate", "--at", at(260), "--dry-run", "--format", "json", config=config)
    assert [r["state"] for r in lines(result.stdout)] == ["firing"]  # pending 10m: fires
    assert [i["state"] for i in show(run_cli, config) if "state" in i] == ["pending"]


def test_a_dry_run_on_a_new_home_writes_no_state(run_cli, config, home) -> None:
    assert run_cli("evaluate", "--at", at(250), "--dry-run", config=config).exit_code == 0
    assert not state_path(home).exists()


def test_show_lists_instances_and_last_evaluations(run_cli, config) -> None:
    assert run_cli("evaluate", "--at", at(250), config=config).exit_code == 0
    evaluation, instance = show(run_cli, config)
    assert evaluation == {"signal": "costly", "last_eval_at": at(250), "error": None}
    assert instance["state"] == "firing" and instance["since"] == at(250)
    assert instance["labels"] == {"tenant_id": "t2"} and instance["value"] > 2
    table = run_cli("state", "show", config=config).stdout
    assert "LAST_EVAL_AT" in table and "tenant_id=t2" in table and "firing" in table


def test_reset_one_signal_lets_it_start_over(run_cli, config) -> None:
    assert run_cli("evaluate", config=config).exit_code == 0
    result = run_cli("state", "reset", "--signal", "costly", config=config)
    assert result.exit_code == 0 and "reset costly" in result.stdout
    assert show(run_cli, config) == []
    assert run_cli("evaluate", "--at", at(250), config=config).exit_code == 0


def test_reset_all_needs_confirmation(run_cli, config) -> None:
    assert run_cli("evaluate", "--at", at(250), config=config).exit_code == 0
    refused = run_cli("state", "reset", "--all", config=config)
    assert refused.exit_code == 1 and "--yes" in str(refused.exception)
    assert show(run_cli, config) != []
    assert run_cli("state", "reset", "--all", "--yes", config=config).exit_code == 0
    assert show(run_cli, config) == []


def test_home_after_the_subcommand(run_cli, config, home) -> None:
    assert run_cli("evaluate", "--at", at(250), config=config).exit_code == 0
    from click.testing import CliRunner

    from fleetsignals.cli import cli

    done = CliRunner().invoke(cli, ["state", "show", "--home", str(home.root)])
    assert "costly" in done.output
