"""Alert identity as Prometheus has it, end to end: final label sets, collisions, the
upgrade of state written by the older version, and `for` restored after an outage."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

from fleetsignals.alerts.identity import fingerprint
from fleetsignals.alerts.state import state_path
from fleetsignals.timeutil import format_time
from tests.fixtures.alertfixtures import COSTLY_SETTINGS, COSTLY_SQL, T0, write_signal


def at(minutes: int) -> str:
    return format_time(T0 + timedelta(minutes=minutes))


def states(result) -> list[str]:
    return [json.loads(line)["state"] for line in result.stdout.splitlines()]


# Fires for tenant t2 at any time after T0 (no window), so gaps of days still see it.
EVER = """
select tenant_id, avg(cost_usd) as value
from fct_runs
where ended_at <= $eval_at and tenant_id = 't2'
group by tenant_id
"""


def test_rows_differing_only_in_an_overridden_label_fail_the_signal(
    snapshot, signal_dir: Path, make_config, run_cli
) -> None:
    """Before: two instances with one Alertmanager fingerprint, each overwriting the other."""
    sql = (
        "select tenant_id, 'from query ' || tenant_id as severity, 1 as value "
        "from fct_runs where ended_at <= $eval_at group by tenant_id"
    )
    write_signal(signal_dir, "sev", sql, {"labels": {"team": "billing"}})
    write_signal(signal_dir, "collide", sql.replace("tenant_id, 'from", "'x' as tenant_id, 'from"))
    config, _ = make_config()
    result = run_cli("evaluate", "--at", at(250), "--format", "json", config=config)
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    # The signal's severity overrides the query's column (Prometheus: rule labels win)...
    assert {r["signal"] for r in records} == {"sev"}
    assert {r["severity"] for r in records} == {"warning"}
    assert sorted(r["labels"]["tenant_id"] for r in records) == ["t1", "t2", "t3"]
    assert all(r["labels"]["team"] == "billing" for r in records)
    # ...so rows that differ only there are one alert: an error, as in Prometheus.
    assert "signal collide: rows {" in result.stderr
    assert "have the same labels after applying the signal's labels" in result.stderr


def test_state_from_the_older_version_keeps_its_alerts(
    home, snapshot, signal_dir: Path, make_config, run_cli, tmp_path: Path
) -> None:
    """State written before identities were final label sets (no identity column, keys
    hashed without severity and static labels) upgrades in place: the firing alert stays
    one firing alert, with no spurious resolution or new firing."""
    write_signal(signal_dir, "costly", COSTLY_SQL, {**COSTLY_SETTINGS, "labels": {"team": "b"}})
    out = tmp_path / "notes.jsonl"
    config, _ = make_config(notify=[{"type": "file", "path": str(out)}])
    home.alerts.mkdir(parents=True, exist_ok=True)
    old_key = fingerprint({"tenant_id": "t2", "alertname": "costly"})
    with sqlite3.connect(state_path(home)) as con:
        con.executescript(OLD_SCHEMA)
        con.execute(
            "insert into instances values (?, 'costly', ?, 'firing', ?, ?, 2.4, '{}', ?, "
            "null, null, ?)",
            (old_key, '{"tenant_id": "t2"}', *[(T0 + timedelta(minutes=245)).isoformat()] * 4),
        )
        con.execute("insert into evaluations values ('costly', ?, null)", (at(245)[:-1],))
    result = run_cli("evaluate", "--at", at(250), "--format", "json", config=config)
    assert result.exit_code == 0, result.stderr
    assert states(result) == ["firing"]
    assert not out.exists()  # nothing new to say: it was firing and still is
    final = {"tenant_id": "t2", "team": "b", "severity": "critical", "alertname": "costly"}
    with sqlite3.connect(state_path(home)) as con:
        ((key, identity, fired_at),) = con.execute(
            "select key, identity, fired_at from instances"
        ).fetchall()
    assert (key, json.loads(identity)) == (fingerprint(final), final)
    assert fired_at == (T0 + timedelta(minutes=245)).isoformat()


def test_a_pending_alert_seen_again_days_later_waits_the_grace(
    snapshot, signal_dir: Path, make_config, run_cli
) -> None:
    """Before: pending at 300 and 305 minutes, it fired at once two days later."""
    write_signal(signal_dir, "ever", EVER, {"for": "10m"})
    config, _ = make_config()
    later = 2 * 24 * 60
    seen = []
    for minutes in (300, 305, later + 305, later + 310, later + 315):
        result = run_cli("evaluate", "--at", at(minutes), "--format", "json", config=config)
        assert result.exit_code == 0, result.stderr
        seen += states(result)
    assert seen == ["pending", "pending", "pending", "pending", "firing"]


def test_backtest_at_hourly_steps_fires_a_for_of_ten_minutes(
    snapshot, signal_dir: Path, make_config, run_cli
) -> None:
    write_signal(signal_dir, "ever", EVER, {"for": "10m"})
    config, _ = make_config()
    result = run_cli(
        "backtest", "--start", at(60), "--end", at(240), "--every", "1h", "--format", "json",
        config=config,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert states(result) == ["pending", "firing", "firing", "firing"]


OLD_SCHEMA = """
create table instances (
    key text primary key,
    signal text not null,
    labels text not null,
    state text not null,
    active_at text not null,
    last_eval_at text not null,
    value real,
    "values" text not null,
    fired_at text,
    resolved_at text,
    keep_firing_since text,
    last_sent_at text
);
create table evaluations (
    signal text primary key,
    last_eval_at text not null,
    error text
);
"""
