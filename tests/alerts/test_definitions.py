"""Loading signals: settings in front matter or _signals.yml, and errors that name the file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.definitions import load_signals
from fleetsignals.errors import FleetsignalsError
from fleetsignals.snapshot import connect_snapshot
from tests.fixtures.alertfixtures import COSTLY_SETTINGS, COSTLY_SQL, write_signal


def test_bare_sql_file_is_a_signal_with_defaults(signal_dir: Path) -> None:
    write_signal(
        signal_dir,
        "bare",
        "select 'a' as agent_name, 1 as value where $eval_at > timestamp '2000-01-01'",
    )
    (signal,), problems = load_signals([signal_dir])
    assert problems == []
    assert signal.name == "bare"
    assert signal.severity == "warning"
    assert signal.every == timedelta(minutes=5)
    assert signal.for_ == timedelta(0) and signal.keep_firing_for == timedelta(0)
    assert signal.parameter_names == {"eval_at"}


def test_front_matter_settings(signal_dir: Path) -> None:
    write_signal(
        signal_dir,
        "costly",
        COSTLY_SQL,
        {
            **COSTLY_SETTINGS,
            "for": "10m",
            "keep_firing_for": "15m",
            "every": "1m",
            "labels": {"team": "billing"},
            "runbook": "https://runbooks/costly",
        },
    )
    (signal,), problems = load_signals([signal_dir])
    assert problems == []
    assert signal.severity == "critical"
    assert signal.for_ == timedelta(minutes=10)
    assert signal.keep_firing_for == timedelta(minutes=15)
    assert signal.every == timedelta(minutes=1)
    assert signal.labels == {"team": "billing"}
    assert signal.params == {"threshold": 2.0}
    assert signal.parameter_names == {"eval_at", "threshold"}


def test_settings_file_beside_the_sql(signal_dir: Path) -> None:
    write_signal(signal_dir, "costly", COSTLY_SQL)
    (signal_dir / "_signals.yml").write_text(
        "costly:\n  severity: info\n  for: 5m\n  params:\n    threshold: 3\n", encoding="utf-8"
    )
    (signal,), problems = load_signals([signal_dir])
    assert problems == []
    assert (signal.severity, signal.for_, signal.params) == (
        "info",
        timedelta(minutes=5),
        {"threshold": 3},
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"severity": "loud"}, "severity must be one of"),
        ({"frequency": "5m"}, "unknown setting frequency"),
        ({"for": "five minutes"}, "for: invalid duration"),
        ({"every": "0"}, "every must be a positive duration"),
        ({"params": {"threshold": 1, "unused": 2}}, "params unused not used by the query"),
        ({"params": {"threshold": 1, "eval_at": 2}}, "params may not set eval_at"),
        ({"labels": {"severity": "x"}, "params": {"threshold": 1}}, "labels may not set severity"),
        ({"summary": "{tenant_id.upper}", "params": {"threshold": 1}}, "not a plain name"),
    ],
)
def test_bad_settings_name_the_file(signal_dir: Path, settings: dict, message: str) -> None:
    path = write_signal(signal_dir, "costly", COSTLY_SQL, settings)
    write_signal(signal_dir, "fine", "select 1 as value where $eval_at is null")
    signals, (problem,) = load_signals([signal_dir])
    assert [s.name for s in signals] == ["fine"]  # one bad file does not hide the others
    assert problem.path == path
    assert message in str(problem)
    assert str(path) in str(problem)


def test_missing_param_is_reported(signal_dir: Path) -> None:
    write_signal(signal_dir, "costly", COSTLY_SQL)
    _, (problem,) = load_signals([signal_dir])
    assert "uses $threshold but params does not set threshold" in problem.message


def test_bad_yaml_reports_the_line(signal_dir: Path) -> None:
    path = signal_dir / "broken.sql"
    path.write_text("/* ---\nseverity: critical\nfor: [5m\n--- */\nselect 1 as value\n")
    _, (problem,) = load_signals([signal_dir])
    assert problem.path == path
    assert "invalid YAML at line" in problem.message


def test_bad_settings_file(signal_dir: Path) -> None:
    (signal_dir / "_signals.yml").write_text("costly: [unclosed\n")
    _, problems = load_signals([signal_dir])
    assert any("_signals.yml" in str(p) and "invalid YAML" in p.message for p in problems)


def test_settings_for_a_missing_sql_file(signal_dir: Path) -> None:
    (signal_dir / "_signals.yml").write_text("ghost:\n  severity: info\n")
    _, (problem,) = load_signals([signal_dir])
    assert "no ghost.sql" in problem.message


def test_settings_in_both_places_are_refused(signal_dir: Path) -> None:
    write_signal(signal_dir, "costly", COSTLY_SQL, COSTLY_SETTINGS)
    (signal_dir / "_signals.yml").write_text("costly:\n  severity: info\n")
    _, (problem,) = load_signals([signal_dir])
    assert "both in front matter and in _signals.yml" in problem.message


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("delete from fct_runs", "refused: a signal must be one select query, this is DELETE"),
        ("select 1 as value; select 2 as value", "exactly one query, found 2"),
        ("selec 1", "SQL error: Parser Error"),
    ],
)
def test_sql_shape_is_checked_without_a_snapshot(signal_dir: Path, sql: str, message: str) -> None:
    write_signal(signal_dir, "bad", sql)
    _, (problem,) = load_signals([signal_dir])
    assert message in problem.message


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select tenant_id from fct_runs where ended_at < $eval_at", "numeric column named value"),
        (
            "select tenant_id as value from fct_runs where ended_at < $eval_at",
            "value must be numeric",
        ),
        ("select count(*) as value from no_such_table where $eval_at is null", "no_such_table"),
        (
            "select count(*) as value from fct_runs where no_such_column < $eval_at",
            "no_such_column",
        ),
    ],
)
def test_sql_is_checked_against_the_snapshot(
    home, snapshot, signal_dir: Path, sql: str, message: str
) -> None:
    write_signal(signal_dir, "bad", sql)
    with connect_snapshot(home) as con:
        _, (problem,) = load_signals([signal_dir], con)
    assert message in problem.message


def test_template_fields_must_be_columns(home, snapshot, signal_dir: Path) -> None:
    write_signal(
        signal_dir, "costly", COSTLY_SQL, {**COSTLY_SETTINGS, "summary": "{tenant} is costly"}
    )
    with connect_snapshot(home) as con:
        _, (problem,) = load_signals([signal_dir], con)
    assert "summary refers to tenant, which the query does not return" in problem.message


def test_unknown_signal_name_and_missing_dir(signal_dir: Path, tmp_path: Path) -> None:
    write_signal(signal_dir, "bare", "select 1 as value")
    with pytest.raises(FleetsignalsError, match="unknown signal nope"):
        load_signals([signal_dir], names=["nope"])
    with pytest.raises(FleetsignalsError, match="does not exist"):
        load_signals([tmp_path / "missing"])


def test_duplicate_names_across_dirs(signal_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "more"
    other.mkdir()
    write_signal(signal_dir, "same", "select 1 as value")
    write_signal(other, "same", "select 2 as value")
    signals, (problem,) = load_signals([signal_dir, other])
    assert len(signals) == 1 and "defined twice" in problem.message


@pytest.mark.parametrize(
    "sql",
    [
        "select 1 as value where now() > $eval_at",
        "select 1 as value where current_timestamp > $eval_at",
        "select 1 as value where CURRENT_DATE > $eval_at",
        "select 1 as value where today () > $eval_at",
    ],
)
def test_wall_clock_is_refused(signal_dir: Path, sql: str) -> None:
    write_signal(signal_dir, "clock", sql)
    _, (problem,) = load_signals([signal_dir])
    assert "reads the wall clock" in problem.message and "use $eval_at" in problem.message


def test_wall_clock_words_in_comments_and_strings_are_fine(signal_dir: Path) -> None:
    sql = (
        "-- never now()\nselect 'current_date' as label, 1 as value /* now() */ where $eval_at > 0"
    )
    write_signal(signal_dir, "fine", sql)
    signals, problems = load_signals([signal_dir])
    assert problems == [] and len(signals) == 1
