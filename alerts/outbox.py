"""The durable outbox: at-least-once delivery of notifications to every sink.

Notifications are rendered and written to the ``outbox`` table in the same
transaction as the state change that caused them, then delivered in order,
per sink. A failed delivery stays queued and is retried with exponential
backoff (``alerts.retry_initial`` doubling up to ``alerts.retry_max``) by the next
``evaluate``, ``outbox --retry`` or scheduler cycle (nothing retries in between), and
later notifications for that sink wait behind it, so a firing is never
overtaken by its own resolution. A sink that is down delays alerts, never
loses them; that includes a receiver answering 401, 403 or 404 (wrong credentials
or address: its operator fixes them). Only a payload the receiver rejects as
malformed (any other HTTP 4xx but 408/429) is set aside as dead, with its error,
so it cannot block the queue forever.
Errors are logged and stored (``last_error``) scrubbed of the sink's secrets: its URL
shows as scheme://host[:port] only (``alerts.sinks.redact``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fleetsignals.alerts.sinks import Batch, DeliveryError, PermanentDeliveryError, Sink
from fleetsignals.alerts.sinks.redact import scrub
from fleetsignals.alerts.state import open_state, state_path, transaction
from fleetsignals.home import Home
from fleetsignals.timeutil import format_time, parse_time

log = logging.getLogger(__name__)

# How long a sender holds a claimed row before another process may retry it.
LEASE = timedelta(minutes=2)
# Delivered rows are kept this long for inspection, then deleted.
KEEP_DELIVERED = timedelta(days=7)


# Who retries a queued notification: nothing runs in the background of a one-off command.
RETRIED_BY = (
    "it is retried by the next `fleetsignals evaluate`, `fleetsignals outbox --retry` "
    "or `fleetsignals run` cycle"
)


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    # Notifications still queued for all sinks; ``waiting`` only those of configured sinks.
    pending: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class SinkQueue:
    """One sink's queue, as `fleetsignals outbox` shows it (name and address only)."""

    sink: str
    address: str
    queued: int = 0
    dead: int = 0
    delivered: int = 0
    oldest_queued_at: datetime | None = None
    next_attempt_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None


def enqueue(con: sqlite3.Connection, sinks: list[Sink], batch: Batch, now: datetime) -> int:
    """Render the batch for every sink and queue it (call inside the state transaction)."""
    rows = [
        (sink.name, now.isoformat(), json.dumps(payload), now.isoformat())
        for sink in sinks
        for payload in sink.render(batch)
    ]
    con.executemany(
        "insert into outbox (sink, created_at, payload, next_attempt_at) values (?, ?, ?, ?)", rows
    )
    return len(rows)


def _claim(con: sqlite3.Connection, sink: str, now: datetime) -> tuple[int, str, int] | None:
    """The sink's oldest queued row if it is due, leased to us; None if none or backing off."""
    with transaction(con):
        row = con.execute(
            "select id, payload, attempts, next_attempt_at from outbox "
            "where sink = ? and delivered_at is null and dead_at is null "
            "order by id limit 1",
            (sink,),
        ).fetchone()
        if row is None or datetime.fromisoformat(row[3]) > now:
            return None
        con.execute(
            "update outbox set next_attempt_at = ? where id = ?",
            ((now + LEASE).isoformat(), row[0]),
        )
    return row[0], row[1], row[2]


def _backoff(attempts: int, initial: timedelta, ceiling: timedelta) -> timedelta:
    return min(initial * (2 ** max(attempts - 1, 0)), ceiling)


def deliver(
    home: Home,
    sinks: list[Sink],
    retry_initial: timedelta = timedelta(seconds=10),
    retry_max: timedelta = timedelta(minutes=10),
    now: datetime | None = None,
) -> DeliveryReport:
    """Send every due queued notification, oldest first per sink; returns what happened."""
    report = DeliveryReport()
    with open_state(home) as con:
        for sink in sinks:
            while True:
                moment = now or parse_time("now")
                claimed = _claim(con, sink.name, moment)
                if claimed is None:
                    break
                row_id, payload, attempts = claimed
                try:
                    sink.send(json.loads(payload))
                except PermanentDeliveryError as raised:
                    error = scrub(str(raised), sink.secrets())
                    log.error("sink %s rejected notification %d: %s", sink.name, row_id, error)
                    with transaction(con):
                        con.execute(
                            "update outbox set attempts = attempts + 1, last_error = ?, "
                            "dead_at = ? where id = ?",
                            (error, moment.isoformat(), row_id),
                        )
                    report.dead += 1
                    report.errors.append(f"{sink.name}: {error} (notification set aside)")
                    continue
                except DeliveryError as raised:
                    error = scrub(str(raised), sink.secrets())
                    wait = _backoff(attempts + 1, retry_initial, retry_max)
                    with transaction(con):
                        con.execute(
                            "update outbox set attempts = attempts + 1, next_attempt_at = ?, "
                            "last_error = ? where id = ?",
                            ((moment + wait).isoformat(), error, row_id),
                        )
                    after = format_time(moment + wait)
                    log.warning(
                        "sink %s: %s; queued: not retried before %s; %s",
                        sink.name,
                        error,
                        after,
                        RETRIED_BY,
                    )
                    report.failed += 1
                    report.errors.append(
                        f"{sink.name}: {error} (queued, not retried before {after}; {RETRIED_BY})"
                    )
                    break
                with transaction(con):
                    con.execute(
                        "update outbox set attempts = attempts + 1, delivered_at = ?, "
                        "last_error = null where id = ?",
                        (parse_time("now").isoformat(), row_id),
                    )
                report.delivered += 1
        with transaction(con):
            cutoff = (parse_time("now") - KEEP_DELIVERED).isoformat()
            con.execute("delete from outbox where delivered_at < ?", (cutoff,))
        report.pending = pending_count(con)
        known = {s.name for s in sinks}
        report.waiting = pending_count(con, known)
        orphans = con.execute(
            "select sink, count(*) from outbox where delivered_at is null and dead_at is null "
            "group by sink"
        ).fetchall()
        for name, count in orphans:
            if name not in known:
                log.warning(
                    "%d notifications queued for sink %r, which is not configured", count, name
                )
    return report


def pending_count(con: sqlite3.Connection, sinks: set[str] | None = None) -> int:
    """Queued notifications (of the given sinks only, when given)."""
    rows = con.execute(
        "select sink, count(*) from outbox where delivered_at is null and dead_at is null "
        "group by sink"
    ).fetchall()
    return sum(count for sink, count in rows if sinks is None or sink in sinks)


def retry_now(home: Home, sinks: list[Sink], now: datetime | None = None) -> int:
    """Make every queued notification of these sinks due now (ends their backoff); returns
    how many. A row another process is sending at this moment may then be sent twice, which
    at-least-once delivery allows."""
    if not sinks or not state_path(home).exists():
        return 0
    moment = (now or parse_time("now")).isoformat()
    with open_state(home) as con, transaction(con):
        return sum(
            con.execute(
                "update outbox set next_attempt_at = ? where sink = ? and delivered_at is null "
                "and dead_at is null and next_attempt_at > ?",
                (moment, sink.name, moment),
            ).rowcount
            for sink in sinks
        )


def queues(home: Home, sinks: list[Sink]) -> list[SinkQueue]:
    """Every configured sink's queue, and queues of sinks no longer configured."""
    found = {s.name: SinkQueue(s.name, s.address()) for s in sinks}
    if not state_path(home).exists():  # nothing evaluated yet: do not create the state
        return list(found.values())
    with open_state(home) as con:
        counts = con.execute(
            "select sink, "
            "count(*) filter (where delivered_at is null and dead_at is null), "
            "count(*) filter (where dead_at is not null), "
            "count(*) filter (where delivered_at is not null), "
            "min(created_at) filter (where delivered_at is null and dead_at is null) "
            "from outbox group by sink order by sink"
        ).fetchall()
        for sink, queued, dead, delivered, oldest in counts:
            entry = found.setdefault(sink, SinkQueue(sink, "(not configured)"))
            entry.queued, entry.dead, entry.delivered = queued, dead, delivered
            entry.oldest_queued_at = datetime.fromisoformat(oldest) if oldest else None
            head = con.execute(
                "select next_attempt_at, attempts, last_error from outbox where sink = ? "
                "and delivered_at is null and dead_at is null order by id limit 1",
                (sink,),
            ).fetchone()
            if head is None:
                head = con.execute(
                    "select null, attempts, last_error from outbox where sink = ? "
                    "and dead_at is not null order by id desc limit 1",
                    (sink,),
                ).fetchone()
            if head is not None:
                entry.next_attempt_at = datetime.fromisoformat(head[0]) if head[0] else None
                entry.attempts, entry.last_error = head[1], head[2]
    return list(found.values())
