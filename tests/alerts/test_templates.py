"""Hostile and broken templates: bounded at load, isolated to their signal when they fail."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.definitions import Signal, load_signals
from fleetsignals.alerts.lifecycle import FIRING, Instance, annotations
from fleetsignals.alerts.templates import TemplateError, render
from fleetsignals.timeutil import format_time
from tests.fixtures.alertfixtures import COSTLY_SETTINGS, COSTLY_SQL, T0, Receiver, write_signal


def at(minutes: int) -> str:
    return format_time(T0 + timedelta(minutes=minutes))


def instance(**values: float | None) -> Instance:
    return Instance(
        signal="s",
        labels={"tenant_id": "t2"},
        state=FIRING,
        active_at=datetime(2026, 11, 20),
        last_eval_at=datetime(2026, 11, 20),
        value=values.get("value"),
        values=values,
        identity={"tenant_id": "t2", "alertname": "s", "severity": "warning"},
    )


@pytest.mark.parametrize(
    "summary",
    ["{value:>1000000000000000}", "{value:.500f}", "{value:999999999}", "{value:0>10000}"],
)
def test_huge_widths_and_precisions_are_refused_at_load(signal_dir: Path, summary: str) -> None:
    write_signal(signal_dir, "wide", "select 1 as value", {"summary": summary})
    _, (problem,) = load_signals([signal_dir])
    assert "width and precision may be at most 200" in problem.message
    assert problem.path == signal_dir / "wide.sql"


def test_ordinary_format_specs_still_load(signal_dir: Path) -> None:
    summary = "{value:>12.3f} {value:,.0f} {value:.0%} {tenant_id!r:<20}"
    write_signal(signal_dir, "fine", "select 't' as tenant_id, 1 as value", {"summary": summary})
    signals, problems = load_signals([signal_dir])
    assert problems == [] and signals[0].summary == summary


def test_any_rendering_error_is_a_template_error() -> None:
    # Python's own limit (MemoryError) is reached before ours when the template skips
    # the load-time check (a Signal built in Python).
    with pytest.raises(TemplateError, match="ValueError"):
        render("{value:>1000000000000000}", {"value": 1.0})
    with pytest.raises(TemplateError, match="Unknown format code"):
        render("{tenant_id:d}", {"tenant_id": "t2"})
    # An absent name or a NULL value renders empty, whatever its spec.
    assert render("[{value:.2f}|{missing:>5}]", {"value": None}) == "[|]"


def test_a_failing_template_gives_a_fallback_text_not_an_exception() -> None:
    """Before: MemoryError escaped annotations() and aborted the whole evaluation."""
    signal = Signal("s", Path("s.sql"), "select 1 as value", summary="{value:>1000000000000000}")
    notes = annotations(signal, instance(value=1.0))
    assert notes["summary"] == (
        "s {tenant_id=t2}: the summary template failed "
        "(ValueError: template field {value:>1000000000000000}: width and precision may be "
        "at most 200)"
    )


def test_one_broken_template_does_not_stop_the_other_signals(
    snapshot, signal_dir: Path, make_config, run_cli
) -> None:
    """Two signals, one whose summary fails on every row: the good one fires and notifies,
    the broken one fires too with a fallback summary, and is reported once with its file."""
    write_signal(signal_dir, "costly", COSTLY_SQL, COSTLY_SETTINGS)
    broken = {**COSTLY_SETTINGS, "summary": "{tenant_id:d} costs {value:.2f}"}
    write_signal(signal_dir, "costly_broken", COSTLY_SQL, broken)
    receiver = Receiver()
    try:
        config, _ = make_config(notify=[{"type": "webhook", "url": receiver.url}])
        result = run_cli("evaluate", "--at", at(250), "--format", "json", config=config)
        summaries = {
            body["groupLabels"]["alertname"]: body["alerts"][0]["annotations"]["summary"]
            for body in receiver.bodies
        }
    finally:
        receiver.close()
    assert result.exit_code == 1
    records = {r["signal"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["costly"]["state"] == records["costly_broken"]["state"] == "firing"
    assert summaries["costly"].startswith("t2: average cost 2.3")
    assert summaries["costly_broken"].startswith(
        "costly_broken {tenant_id=t2}: the summary template failed (ValueError: Unknown format"
    )
    assert records["costly_broken"]["summary"] == summaries["costly_broken"]
    problems = [line for line in result.stderr.splitlines() if line.startswith("signal failed")]
    assert problems == [
        f"signal failed: {signal_dir / 'costly_broken.sql'}: signal costly_broken: the summary "
        "template failed for {'tenant_id': 't2'} (ValueError: Unknown format code 'd' for "
        "object of type 'str'): fix the template; its notifications carry a fallback text "
        "meanwhile"
    ]
    assert "Traceback" not in result.stderr


def test_a_hostile_width_is_refused_and_the_others_still_notify(
    snapshot, signal_dir: Path, make_config, run_cli
) -> None:
    """Before: {value:>1000000000000000} raised MemoryError out of `evaluate`."""
    write_signal(signal_dir, "costly", COSTLY_SQL, COSTLY_SETTINGS)
    hostile = {**COSTLY_SETTINGS, "summary": "{value:>1000000000000000}"}
    write_signal(signal_dir, "costly_hostile", COSTLY_SQL, hostile)
    receiver = Receiver()
    try:
        config, _ = make_config(notify=[{"type": "webhook", "url": receiver.url}])
        result = run_cli("evaluate", "--at", at(250), config=config)
        notified = [body["groupLabels"]["alertname"] for body in receiver.bodies]
    finally:
        receiver.close()
    assert result.exit_code == 1
    assert notified == ["costly"]
    assert "costly_hostile.sql: signal costly_hostile: summary: template field" in result.stderr


def test_backtest_reports_a_broken_template_once(
    snapshot, signal_dir: Path, make_config, run_cli
) -> None:
    write_signal(signal_dir, "costly", COSTLY_SQL, COSTLY_SETTINGS)
    broken = {**COSTLY_SETTINGS, "summary": "{tenant_id:d}"}
    write_signal(signal_dir, "costly_broken", COSTLY_SQL, broken)
    config, _ = make_config()
    result = run_cli(
        "backtest", "--start", at(240), "--end", at(300), "--format", "json", config=config
    )
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["signal"] for r in records if r["state"] == "firing"} == {"costly", "costly_broken"}
    assert result.stderr.count("the summary template failed") == 1
