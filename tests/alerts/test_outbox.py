"""Notifications: sink payloads, and at-least-once delivery through the outbox
to real local HTTP servers that refuse, then recover."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.outbox import deliver
from fleetsignals.alerts.sinks import build_sinks
from fleetsignals.alerts.state import state_path
from fleetsignals.errors import FleetsignalsError
from fleetsignals.timeutil import format_time, parse_time
from tests.fixtures.alertfixtures import (
    COSTLY_SETTINGS,
    COSTLY_SQL,
    T0,
    Receiver,
    free_port,
    write_signal,
)


def at(minutes: int) -> str:
    return format_time(T0 + timedelta(minutes=minutes))


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def costly(signal_dir: Path, snapshot) -> None:
    settings = {**COSTLY_SETTINGS, "runbook": "https://runbooks.example/costly"}
    write_signal(signal_dir, "costly", COSTLY_SQL, settings)


def pending(home) -> list[tuple[str, int]]:
    with sqlite3.connect(state_path(home)) as con:
        return con.execute(
            "select sink, attempts from outbox where delivered_at is null order by id"
        ).fetchall()


def test_webhook_payload_is_alertmanagers(
    costly, make_config, run_cli, receiver, monkeypatch
) -> None:
    monkeypatch.setenv("HOOK_URL", receiver.url)  # secrets come from ${ENV} references
    config, _ = make_config(
        notify=[{"type": "webhook", "url": "${HOOK_URL}", "external_url": "http://fs.example"}]
    )
    assert run_cli("evaluate", "--at", at(250), config=config).exit_code == 0
    assert run_cli("evaluate", "--at", at(255), config=config).exit_code == 0  # no news
    assert run_cli("evaluate", "--at", at(390), config=config).exit_code == 0  # resolved
    firing, resolved = receiver.bodies
    assert set(firing) == {
        "version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
        "commonLabels", "commonAnnotations", "externalURL", "alerts",
    }  # fmt: skip
    assert firing["version"] == "4"
    assert firing["groupKey"] == '{}:{alertname="costly"}'
    assert firing["status"] == "firing"
    assert firing["receiver"] == "webhook"
    assert firing["groupLabels"] == {"alertname": "costly"}
    assert firing["commonLabels"] == {
        "alertname": "costly",
        "severity": "critical",
        "tenant_id": "t2",
    }
    assert firing["externalURL"] == "http://fs.example"
    (alert,) = firing["alerts"]
    assert set(alert) == {
        "status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint",
    }  # fmt: skip
    assert alert["status"] == "firing"
    assert alert["startsAt"] == at(250)
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["annotations"]["summary"].startswith("t2: average cost 2.3")
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example/costly"
    assert len(alert["fingerprint"]) == 16
    assert resolved["status"] == "resolved"
    (gone,) = resolved["alerts"]
    assert (gone["status"], gone["endsAt"]) == ("resolved", at(390))
    assert gone["fingerprint"] == alert["fingerprint"]


def test_down_webhook_delays_but_never_loses(costly, make_config, run_cli, home, receiver) -> None:
    config, cfg = make_config(
        notify=[{"type": "webhook", "url": receiver.url}],
        alerts={"retry_initial": "30s", "retry_max": "2m"},
    )
    receiver.refuse_with = 503
    result = run_cli("evaluate", "--at", at(250), config=config)
    assert result.exit_code == 3  # evaluated, but the notification waits in the outbox
    assert "not delivered: webhook: HTTP 503" in result.stderr
    # It says what happens next: nothing retries until one of these runs.
    assert "retried by the next `fleetsignals evaluate`, `fleetsignals outbox --retry`" in (
        result.stderr
    )
    assert "1 notification(s) still queued" in result.stderr
    assert receiver.refused == 1 and receiver.bodies == []
    # While backing off, a new evaluation queues behind the failed notification...
    result = run_cli("evaluate", "--at", at(390), config=config)
    assert receiver.refused == 1  # ...without hammering the receiver before the backoff ends
    assert [attempts for _, attempts in pending(home)] == [1, 0]
    sinks = build_sinks(cfg["notify"])
    later = parse_time("now") + timedelta(seconds=31)
    report = deliver(home, sinks, timedelta(seconds=30), timedelta(minutes=2), now=later)
    assert (report.delivered, report.failed, report.pending) == (0, 1, 2)
    assert [attempts for _, attempts in pending(home)] == [2, 0]
    # Recovered: both arrive, in order (firing before its resolution), exactly once each.
    receiver.refuse_with = None
    report = deliver(home, sinks, now=later + timedelta(minutes=5))
    assert (report.delivered, report.pending) == (2, 0)
    assert [b["status"] for b in receiver.bodies] == ["firing", "resolved"]
    assert pending(home) == []


def test_unreachable_webhook_then_started(costly, make_config, run_cli, home) -> None:
    port = free_port()
    config, cfg = make_config(
        notify=[{"type": "webhook", "url": f"http://127.0.0.1:{port}/hook"}],
        alerts={"retry_initial": "0s"},
    )
    result = run_cli("evaluate", "--at", at(250), config=config)
    assert result.exit_code == 3
    assert "cannot reach" in result.stderr
    assert len(pending(home)) == 1
    server = Receiver(port)
    try:
        run_cli("evaluate", "--at", at(255), config=config)  # next evaluation retries
        assert [b["status"] for b in server.bodies] == ["firing"]
        assert pending(home) == []
    finally:
        server.close()


@pytest.mark.parametrize("code", [401, 403, 404])
def test_misconfigured_receiver_delays_until_fixed(
    costly, make_config, run_cli, home, receiver, code
):
    """Bad credentials or a moved endpoint are fixed by an operator: keep the notification."""
    config, cfg = make_config(
        notify=[{"type": "webhook", "url": receiver.url}], alerts={"retry_initial": "0s"}
    )
    receiver.refuse_with = code
    result = run_cli("evaluate", "--at", at(250), config=config)
    assert f"HTTP {code}" in result.stderr and "set aside" not in result.stderr
    assert [attempts for _, attempts in pending(home)] == [1]
    receiver.refuse_with = None  # the token or URL was fixed
    run_cli("evaluate", "--at", at(390), config=config)
    assert [b["status"] for b in receiver.bodies] == ["firing", "resolved"]
    assert pending(home) == []


def test_malformed_payload_rejection_does_not_block(costly, make_config, run_cli, home, receiver):
    config, cfg = make_config(notify=[{"type": "webhook", "url": receiver.url}])
    receiver.refuse_with = 400
    result = run_cli("evaluate", "--at", at(250), config=config)
    assert "notification set aside" in result.stderr
    receiver.refuse_with = None
    run_cli("evaluate", "--at", at(390), config=config)
    assert [b["status"] for b in receiver.bodies] == ["resolved"]
    with sqlite3.connect(state_path(home)) as con:
        (error,) = con.execute("select last_error from outbox where dead_at is not null").fetchone()
    assert "HTTP 400" in error


def test_file_and_stdout_sinks(costly, make_config, run_cli, tmp_path) -> None:
    out = tmp_path / "alerts" / "notes.jsonl"
    config, _ = make_config(
        notify=[{"type": "file", "path": str(out)}, {"type": "stdout"}],
        alerts={"repeat_interval": "30m"},
    )
    for minutes in (250, 280, 390):
        result = run_cli("evaluate", "--at", at(minutes), "--format", "json", config=config)
        assert result.exit_code == 0
    notes = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(n["notification"], n["eval_at"]) for n in notes] == [
        ("firing", at(250)),
        ("repeat", at(280)),
        ("resolved", at(390)),
    ]
    assert notes[0]["labels"] == {"tenant_id": "t2"}
    assert notes[2]["state"] == "resolved" and notes[2]["ends_at"] == at(390)
    # stdout sink: a human line per notification, printed by the last evaluation
    assert 'RESOLVED [critical] costly{tenant_id="t2"}' in result.stdout


def test_slack_payload(costly, make_config, run_cli, receiver) -> None:
    config, _ = make_config(notify=[{"type": "slack", "url": receiver.url}])
    run_cli("evaluate", "--at", at(250), config=config)
    (message,) = receiver.bodies
    assert message["text"] == "[CRITICAL] costly: 1 firing"
    assert message["blocks"][0]["type"] == "section"
    assert "t2: average cost" in message["blocks"][1]["text"]["text"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "pager"}, "needs type: one of stdout, file"),
        ({"type": "webhook"}, "needs url"),
        ({"type": "file", "path": "x", "color": "red"}, "unknown option color"),
    ],
)
def test_bad_sink_config(entry: dict, message: str) -> None:
    with pytest.raises(FleetsignalsError, match=message):
        build_sinks([entry])


def test_sink_names() -> None:
    sinks = build_sinks([{"type": "stdout"}, {"type": "stdout"}, {"type": "file", "path": "p"}])
    assert [s.name for s in sinks] == ["stdout", "stdout-2", "file"]
    with pytest.raises(FleetsignalsError, match="used twice"):
        build_sinks([{"type": "stdout", "name": "a"}, {"type": "file", "path": "p", "name": "a"}])


def test_outbox_shows_queues_by_name_and_address_and_retries_now(
    costly, make_config, run_cli, home, receiver, monkeypatch
) -> None:
    secret = "/hook/SECRETPATHTOKEN?token=QUERYSECRET"
    monkeypatch.setenv("HOOK_URL", receiver.url.replace("/hook", secret))
    config, _ = make_config(
        notify=[{"type": "webhook", "url": "${HOOK_URL}"}, {"type": "stdout"}],
        alerts={"retry_initial": "1h", "retry_max": "2h"},
    )
    receiver.refuse_with = 503
    assert run_cli("evaluate", "--at", at(250), config=config).exit_code == 3
    listed = run_cli("outbox", "--format", "json", config=config)
    assert listed.exit_code == 0, listed.output
    queues = {q["sink"]: q for q in map(json.loads, listed.stdout.splitlines())}
    webhook = queues["webhook"]
    assert webhook["address"] == f"http://127.0.0.1:{receiver.server.server_address[1]}"
    assert (webhook["queued"], webhook["attempts"]) == (1, 1)
    assert "HTTP 503" in webhook["last_error"] and webhook["next_attempt_at"] > at(250)
    assert (queues["stdout"]["queued"], queues["stdout"]["delivered"]) == (0, 1)
    table = run_cli("outbox", config=config).stdout
    assert "NEXT_ATTEMPT" in table and "webhook" in table
    # Still failing: --retry tries at once (the 1h backoff notwithstanding) and says so.
    failed = run_cli("outbox", "--retry", config=config)
    assert failed.exit_code == 3 and receiver.refused == 2
    for text in (listed.output, table, failed.output):
        assert "SECRETPATHTOKEN" not in text and "QUERYSECRET" not in text
    receiver.refuse_with = None
    done = run_cli("outbox", "--retry", config=config)
    assert done.exit_code == 0, done.output
    assert [b["status"] for b in receiver.bodies] == ["firing"]
    assert pending(home) == []
