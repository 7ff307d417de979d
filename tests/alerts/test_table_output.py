"""Table output is honest at a glance: NULL is not '', a newline cannot break a row, and a
backtest's MAX and SUMMARY describe the same step."""

from __future__ import annotations

from datetime import timedelta

from fleetsignals.timeutil import format_time
from tests.fixtures.alertfixtures import T0, write_signal


def at(minutes: int) -> str:
    return format_time(T0 + timedelta(minutes=minutes))


def test_sql_table_tells_null_from_empty_and_keeps_rows_on_one_line(snapshot, run_cli) -> None:
    query = "select null as a, '' as b, 'x' || chr(10) || 'y' || chr(9) || 'z' as c"
    result = run_cli("sql", query)
    assert result.exit_code == 0, result.output
    header, rule, row = result.stdout.splitlines()
    assert row.split() == ["NULL", "''", "x\\ny\\tz"]


def test_sql_csv_and_json_keep_values_as_they_are(snapshot, run_cli) -> None:
    query = "select null as a, '' as b, 'x' || chr(10) || 'y' as c"
    assert run_cli("sql", query, "--format", "json").stdout == '{"a":null,"b":"","c":"x\\ny"}\n'
    assert run_cli("sql", query, "--format", "csv").stdout == 'a,b,c\n,,"x\ny"\n'


def test_evaluate_table_escapes_multiline_labels_and_shows_null_values(
    snapshot, run_cli, signal_dir, make_config
) -> None:
    write_signal(
        signal_dir,
        "odd",
        "select 'line1' || chr(10) || 'line2' as agent_name, null::double as value "
        "from fct_runs where ended_at <= $eval_at limit 1",
        {"summary": "agent {agent_name}"},
    )
    config, _ = make_config()
    result = run_cli("evaluate", "--at", at(60), config=config)
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert "agent_name=line1\\nline2" in row
    assert row.split()[4] == "NULL"  # VALUE
    assert row.endswith("agent line1\\nline2")


def test_backtest_summary_is_the_max_value_s_step(snapshot, run_cli, signal_dir, make_config):
    # value rises to 3 at minute 20, then falls back to 1 while still firing.
    write_signal(
        signal_dir,
        "peak",
        "select 't' as tenant_id, case when $eval_at = $t0::timestamp + interval 20 minute "
        "then 3.0 "
        "else 1.0 end as value from fct_runs where ended_at <= $eval_at limit 1",
        {"summary": "value {value:.0f}", "params": {"t0": T0.isoformat()}},
    )
    config, _ = make_config()
    result = run_cli("backtest", "--start", at(10), "--end", at(30), config=config)
    assert result.exit_code == 0, result.output
    row = result.stdout.splitlines()[-1].split()
    assert row[-4:] == ["3", at(20), "value", "3"]  # MAX, MAX_AT, SUMMARY
