"""The alertmanager sink against a real Alertmanager (Debian prometheus-alertmanager, on loopback).

The binary is installed by scripts/install-services.sh (`make services`, part of
`make test`); without it these tests fail with a message saying so, never skip.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

from fleetsignals.alerts.lifecycle import fingerprint
from fleetsignals.alerts.sinks.alertmanager import postable
from fleetsignals.timeutil import format_time, parse_time
from tests.fixtures.alertfixtures import T0, Receiver, write_signal
from tests.fixtures.alertmanagers import alerts_in


def ends_at(alert: dict) -> datetime:
    return parse_time(alert["endsAt"]).replace(microsecond=0)


SQL = """
select tenant_id, avg(cost_usd) as value
from fct_runs
where ended_at <= $eval_at and tenant_id = $tenant
group by tenant_id
"""


def test_alert_appears_and_resolves_in_alertmanager(
    alertmanager: str, snapshot, signal_dir: Path, make_config, run_cli
) -> None:
    settings = {
        "severity": "critical",
        "summary": "{tenant_id}: average cost {value:.2f}",
        "description": "Cost per run is high",
        "runbook": "https://runbooks.example/costly",
        "labels": {"team": "billing"},
        "params": {"tenant": "t2"},
    }
    write_signal(signal_dir, "costly", SQL, settings)
    config, _ = make_config(notify=[{"type": "alertmanager", "url": alertmanager}])
    # Past times, as live evaluation has: Alertmanager takes an endsAt in the future as
    # "still active until then", so a resolution must carry a time that has passed.
    first = parse_time("now") - timedelta(seconds=10)
    result = run_cli("evaluate", "--at", format_time(first), config=config)
    assert result.exit_code == 0, result.output + result.stderr
    (alert,) = alerts_in(alertmanager)
    labels = {
        "alertname": "costly",
        "severity": "critical",
        "team": "billing",
        "tenant_id": "t2",
    }
    assert alert["labels"] == labels
    assert alert["status"]["state"] == "active"
    assert alert["annotations"] == {
        "summary": "t2: average cost 2.35",
        "description": "Cost per run is high",
        "runbook_url": "https://runbooks.example/costly",
    }
    # Alertmanager computes the same fingerprint as we do (Prometheus' label-set hash).
    assert alert["fingerprint"] == fingerprint(labels)
    assert alert["startsAt"].startswith(format_time(first)[:-1])
    # endsAt = send time + 4 x the evaluation interval (5m), as Prometheus sends it.
    assert ends_at(alert) >= first.replace(microsecond=0) + timedelta(seconds=10, minutes=20)
    assert ends_at(alert) <= parse_time("now") + timedelta(minutes=20)

    # Still firing at the next evaluation: re-sent with a later endsAt, so it never expires.
    second = first + timedelta(seconds=2)
    before = ends_at(alert)
    time.sleep(1.1)
    run_cli("evaluate", "--at", format_time(second), config=config)
    (alert,) = alerts_in(alertmanager)
    assert ends_at(alert) > before
    assert alert["startsAt"].startswith(format_time(first)[:-1])

    # The condition clears: resolved, sent with endsAt = the resolution time.
    write_signal(signal_dir, "costly", SQL, {**settings, "params": {"tenant": "nobody"}})
    third = second + timedelta(seconds=2)
    result = run_cli("evaluate", "--at", format_time(third), config=config)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "", result.stderr
    remaining = alerts_in(alertmanager)
    # Alertmanager's API lists only unresolved alerts: ours is gone.
    assert remaining == []
    resolved = alerts_in(alertmanager, "?active=false&silenced=false&inhibited=false")
    assert resolved == []


def test_one_fingerprint_in_every_sink(
    alertmanager: str, snapshot, signal_dir: Path, make_config, run_cli, tmp_path: Path
) -> None:
    """Alertmanager's own fingerprint for the alert is the one the file, stdout and
    webhook sinks show (before, file and stdout hashed the labels without severity and
    the static labels)."""
    settings = {"severity": "critical", "labels": {"team": "billing"}, "params": {"tenant": "t2"}}
    write_signal(signal_dir, "costly", SQL, settings)
    out = tmp_path / "notes.jsonl"
    receiver = Receiver()
    try:
        config, _ = make_config(
            notify=[
                {"type": "alertmanager", "url": alertmanager},
                {"type": "file", "path": str(out)},
                {"type": "webhook", "url": receiver.url},
                {"type": "stdout"},
            ]
        )
        result = run_cli("evaluate", "--at", format_time(parse_time("now")), config=config)
        assert result.exit_code == 0, result.output + result.stderr
        (alert,) = alerts_in(alertmanager)
        (note,) = [json.loads(line) for line in out.read_text().splitlines()]
        ((hooked,),) = [body["alerts"] for body in receiver.bodies]
    finally:
        receiver.close()
    assert note["fingerprint"] == alert["fingerprint"]
    assert hooked["fingerprint"] == alert["fingerprint"]
    assert f"fingerprint={alert['fingerprint']}" in result.stdout
    assert note["labels"] == {"team": "billing", "tenant_id": "t2"}


def test_evaluating_a_past_time_leaves_the_alert_active(
    alertmanager: str, snapshot, signal_dir: Path, make_config, run_cli
) -> None:
    """`evaluate --at` two weeks ago: the firing alert is valid from when it is sent, so
    Alertmanager shows it active (before, its endsAt was already past: Alertmanager took
    it as resolved). Its resolution at a past time still resolves it."""
    settings = {"params": {"tenant": "t2"}}
    write_signal(signal_dir, "costly", SQL, settings)
    config, _ = make_config(notify=[{"type": "alertmanager", "url": alertmanager}])
    past = T0 + timedelta(hours=5)
    assert past < parse_time("now") - timedelta(days=1)
    result = run_cli("evaluate", "--at", format_time(past), config=config)
    assert result.exit_code == 0, result.output + result.stderr
    (alert,) = alerts_in(alertmanager)
    assert alert["status"]["state"] == "active"
    assert alert["startsAt"].startswith(format_time(past)[:-1])
    assert ends_at(alert) > parse_time("now") + timedelta(minutes=19)

    write_signal(signal_dir, "costly", SQL, {"params": {"tenant": "nobody"}})
    result = run_cli("evaluate", "--at", format_time(past + timedelta(minutes=5)), config=config)
    assert result.exit_code == 0, result.output + result.stderr
    assert alerts_in(alertmanager) == []


def test_firing_alerts_are_valid_from_when_they_are_sent() -> None:
    """endsAt is filled in at delivery: a late delivery (Alertmanager was down) or a past
    evaluation time never gives an expired firing alert; resolutions keep their time."""
    eval_at = datetime(2026, 11, 20, 5, 0)
    payload = {
        "eval_at": format_time(eval_at),
        "valid_for": 1200.0,
        "alerts": [
            {"labels": {"alertname": "a"}, "endsAt": None},
            {"labels": {"alertname": "b"}, "endsAt": "2026-11-20T04:55:00Z"},
        ],
    }
    later = datetime(2026, 12, 1, 12, 0)
    firing, resolved = postable(payload, later)
    assert firing["endsAt"] == "2026-12-01T12:20:00Z"
    assert resolved["endsAt"] == "2026-11-20T04:55:00Z"
    # An evaluation time ahead of the clock keeps Prometheus' eval time + valid_for.
    (ahead, _) = postable(payload, eval_at - timedelta(hours=1))
    assert ahead["endsAt"] == "2026-11-20T05:20:00Z"
    # Payloads queued by the previous version are sent as they are.
    old = [{"labels": {"alertname": "a"}, "endsAt": "2026-11-20T05:20:00Z"}]
    assert postable(old, later) == old
