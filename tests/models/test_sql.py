"""`fleetsignals sql`: formats, errors, read-only."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner, Result

from fleetsignals.cli import cli, main
from fleetsignals.home import Home


def sql(home: Home, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home.root), "sql", *args])


def test_table_output(synthetic_home: Home) -> None:
    result = sql(
        synthetic_home, "select status, count(*) as runs from fct_runs group by 1 order by 1"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["status", "runs"]
    assert set(lines[1]) == {"-", " "}
    assert [line.split()[0] for line in lines[2:]] == ["error", "ok"]


def test_json_lines_output(synthetic_home: Home) -> None:
    result = sql(
        synthetic_home,
        "select run_id, started_at, cost_usd, step_count from fct_runs order by run_id limit 3",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3
    assert set(rows[0]) == {"run_id", "started_at", "cost_usd", "step_count"}
    assert rows[0]["started_at"].endswith("Z")
    assert isinstance(rows[0]["step_count"], int)


def test_csv_output(synthetic_home: Home) -> None:
    result = sql(
        synthetic_home,
        "select dimension, count(*) as n from fct_windows_60m group by 1 order by 1",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["dimension", "n"]
    assert [r[0] for r in rows[1:]] == sorted(
        [
            "agent_name",
            "fleet",
            "model",
            "prompt_variant",
            "tenant_id",
            "tool_name",
            "user_cohort",
            "workflow",
        ]
    )


def test_bad_query_is_one_clear_line(synthetic_home: Home, capsys, monkeypatch) -> None:
    monkeypatch.setattr(
        "sys.argv",
        ["fleetsignals", "--home", str(synthetic_home.root), "sql", "select nope from fct_runs"],
    )
    try:
        main()
    except SystemExit as exc:
        assert exc.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: query failed:") and "nope" in err
    assert len(err.splitlines()) == 1


def test_writes_are_refused(synthetic_home: Home) -> None:
    result = sql(synthetic_home, "drop table fct_windows_60m")
    assert result.exit_code != 0
    assert "read-only" in str(result.exception) or "read-only" in result.output


def test_no_snapshot_yet_says_what_to_do(home: Home) -> None:
    result = sql(home, "select 1")
    assert result.exit_code != 0
    assert "fleetsignals build" in str(result.exception)
