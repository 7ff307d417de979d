"""Trace data cannot control a notification: each sink escapes what the data controls
(Slack mrkdwn, Alertmanager label names, one line per stdout notification, JSON lines)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.lifecycle import fingerprint
from fleetsignals.alerts.sinks.labels import prometheus_labels
from fleetsignals.timeutil import format_time, parse_time
from tests.fixtures.alertfixtures import T0, Receiver, publish_snapshot, write_signal
from tests.fixtures.alertmanagers import alerts_in

HOSTILE = '<!channel> <https://example.invalid|open runbook> <@U123> & co\n{"forged": true}'
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

# Tenant t2's agent is named by a hostile trace producer; its runs turn costly at T0 + 4h.
BY_AGENT = """
select agent_name, avg(cost_usd) as value
from fct_runs
where ended_at <= $eval_at and ended_at > $eval_at - interval 30 minute
group by agent_name
having avg(cost_usd) > 2.0
"""
SETTINGS = {
    "severity": "critical",
    "summary": "{agent_name}: average cost {value:.2f}",
    "runbook": "https://runbooks.example/costly?a=1&b=2",
}


def at(minutes: int) -> str:
    return format_time(T0 + timedelta(minutes=minutes))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def hostile(home, signal_dir: Path) -> None:
    value = HOSTILE.replace("'", "''")
    publish_snapshot(
        home, extra_sql=f"update fct_runs set agent_name = '{value}' where tenant_id = 't2'"
    )
    write_signal(signal_dir, "costly", BY_AGENT, SETTINGS)


def mrkdwn_texts(message: dict) -> list[str]:
    texts = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [element["text"] for element in block.get("elements", [])]
    return texts


def test_slack_shows_hostile_labels_as_text(hostile, make_config, run_cli, receiver) -> None:
    config, _ = make_config(notify=[{"type": "slack", "url": receiver.url}])
    assert run_cli("evaluate", "--at", at(250), config=config).exit_code == 0
    (message,) = receiver.bodies
    texts = "\n".join(mrkdwn_texts(message))
    # No control sequence from the data: the only <...> is the operator's runbook link.
    assert re.findall(r"<[^>]*>", texts) == [
        "<https://runbooks.example/costly?a=1&amp;b=2|runbook>"
    ]
    assert (
        "&lt;!channel&gt; &lt;https://example.invalid|open runbook&gt; &lt;@U123&gt; &amp; co"
        in texts
    )


def test_slack_runbook_that_is_not_a_url_is_text(
    home, signal_dir, make_config, run_cli, receiver
) -> None:
    publish_snapshot(home)
    write_signal(signal_dir, "costly", BY_AGENT, {**SETTINGS, "runbook": "ask <!here> in #ops"})
    config, _ = make_config(notify=[{"type": "slack", "url": receiver.url}])
    run_cli("evaluate", "--at", at(250), config=config)
    (message,) = receiver.bodies
    context = message["blocks"][-1]["elements"][0]["text"]
    assert "runbook: ask &lt;!here&gt; in #ops" in context and "<" not in context


def test_file_and_stdout_keep_one_line_per_notification(
    hostile, make_config, run_cli, tmp_path
) -> None:
    out = tmp_path / "notes.jsonl"
    config, _ = make_config(notify=[{"type": "file", "path": str(out)}, {"type": "stdout"}])
    result = run_cli("evaluate", "--at", at(250), "--format", "json", config=config)
    (line,) = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["labels"] == {"agent_name": HOSTILE}
    (printed,) = [x for x in result.stdout.splitlines() if " FIRING [critical] costly" in x]
    assert f"agent_name={json.dumps(HOSTILE, ensure_ascii=False)}" in printed
    assert not any(x.startswith('{"forged"') for x in result.stdout.splitlines())


ODD_NAMES = """
select
    tenant_id,
    tenant_id as "tenant id",
    'x' as "1st",
    'y' as "väg",
    avg(cost_usd) as value
from fct_runs
where ended_at <= $eval_at and tenant_id = 't2'
group by tenant_id
"""
VALID = {
    "tenant_id": "t2",
    "tenant_id_": "t2",
    "_1st": "x",
    "v_g": "y",
    "alertname": "costly",
    "severity": "warning",
}


def test_label_names_made_valid() -> None:
    assert prometheus_labels({"a b": "1", "a_b": "2", "": "3", "ok": "\ud800"}) == {
        "a_b": "2",
        "a_b_": "1",
        "_": "3",
        "ok": "?",
    }


def test_webhook_labels_are_valid_and_fingerprinted(
    snapshot, signal_dir, make_config, run_cli, receiver
) -> None:
    write_signal(signal_dir, "costly", ODD_NAMES, {"severity": "warning"})
    config, _ = make_config(notify=[{"type": "webhook", "url": receiver.url}])
    run_cli("evaluate", "--at", at(250), config=config)
    (body,) = receiver.bodies
    (alert,) = body["alerts"]
    assert alert["labels"] == VALID
    assert alert["fingerprint"] == fingerprint(VALID)
    assert all(LABEL_NAME.fullmatch(name) for name in body["commonLabels"])


def test_alertmanager_accepts_odd_column_names(
    alertmanager: str,  # noqa: F811 (the imported fixture)
    snapshot,
    signal_dir,
    make_config,
    run_cli,
) -> None:
    write_signal(signal_dir, "costly", ODD_NAMES, {"severity": "warning"})
    config, _ = make_config(notify=[{"type": "alertmanager", "url": alertmanager}])
    now = format_time(parse_time("now") - timedelta(seconds=10))
    result = run_cli("evaluate", "--at", now, config=config)
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    (alert,) = alerts_in(alertmanager)
    assert alert["labels"] == VALID
    assert alert["fingerprint"] == fingerprint(VALID)


def test_webhook_group_key_quotes_the_name(
    snapshot, signal_dir, make_config, run_cli, receiver
) -> None:
    write_signal(signal_dir, 'co"st\\ly', BY_AGENT, {"severity": "warning"})
    config, _ = make_config(notify=[{"type": "webhook", "url": receiver.url}])
    run_cli("evaluate", "--at", at(250), config=config)
    (body,) = receiver.bodies
    assert body["groupKey"] == '{}:{alertname="co\\"st\\\\ly"}'
