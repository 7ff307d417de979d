"""Durable alert state and outbox: one SQLite database in WAL mode under HOME/alerts.

SQLite rather than DuckDB because DuckDB admits one writer process per file,
so a running scheduler would lock out `fleetsignals evaluate`; SQLite lets
both write, one short transaction at a time. Every evaluation's state change
and the notifications it enqueues commit in one transaction, so a kill at any
moment leaves either the old state or the new state with its notifications.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fleetsignals.alerts.lifecycle import Instance, Notice
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home

SCHEMA = """
create table if not exists instances (
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
    last_sent_at text,
    -- The final label set (JSON); null in rows written before it was the identity.
    identity text
);
create index if not exists instances_by_signal on instances (signal);
create table if not exists evaluations (
    signal text primary key,
    last_eval_at text not null,
    error text
);
-- Every notification-worthy transition (firing, repeat, resolved), for audit and retention.
create table if not exists alert_history (
    signal text not null,
    labels text not null,
    notification text not null,
    last_eval_at text not null,
    value real
);
create index if not exists alert_history_by_time on alert_history (last_eval_at);
create table if not exists outbox (
    id integer primary key autoincrement,
    sink text not null,
    created_at text not null,
    payload text not null,
    attempts integer not null default 0,
    next_attempt_at text not null,
    last_error text,
    delivered_at text,
    -- set when the receiver rejected the payload as malformed: never retried
    dead_at text
);
create index if not exists outbox_pending on outbox (sink, id)
    where delivered_at is null and dead_at is null;
"""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def state_path(home: Home) -> Path:
    return home.alerts / "state.sqlite"


@contextmanager
def open_state(home: Home, path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A connection to the state database (or the scratch copy at ``path``), created on
    first use; closed on exit."""
    if path is None:
        home.alerts.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue begin/commit ourselves (see `transaction`).
    con = sqlite3.connect(path or state_path(home), timeout=60, isolation_level=None)
    try:
        con.execute("pragma journal_mode=wal")
        # synchronous=full: a committed notification survives a power cut, not just a kill.
        con.execute("pragma synchronous=full")
        con.executescript(SCHEMA)
        _upgrade(con)
        yield con
    finally:
        con.close()


def _upgrade(con: sqlite3.Connection) -> None:
    """Bring state written by an older version up to this schema (idempotent, concurrent-safe).

    Before the identity column, instances were keyed by their query labels and the signal
    name; such rows load with an empty identity and ``lifecycle.advance`` re-keys them by
    their final label set at the signal's next evaluation, so a firing alert stays one
    alert (no spurious resolution and re-firing) across the upgrade.
    """
    columns = {row[1] for row in con.execute("pragma table_info(instances)")}
    if "identity" in columns:
        return
    with transaction(con):
        columns = {row[1] for row in con.execute("pragma table_info(instances)")}
        if "identity" not in columns:  # another process may have upgraded meanwhile
            con.execute("alter table instances add column identity text")


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``begin immediate``: take the write lock up front, so read-modify-write never races."""
    con.execute("begin immediate")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def load_instances(con: sqlite3.Connection, signal: str) -> dict[str, Instance]:
    rows = con.execute(
        'select key, signal, labels, state, active_at, last_eval_at, value, "values", '
        "fired_at, resolved_at, keep_firing_since, last_sent_at, identity "
        "from instances where signal = ?",
        (signal,),
    ).fetchall()
    return {
        row[0]: Instance(
            signal=row[1],
            labels=json.loads(row[2]),
            state=row[3],
            active_at=_time(row[4]),
            last_eval_at=_time(row[5]),
            value=row[6],
            values=json.loads(row[7]),
            fired_at=_time(row[8]),
            resolved_at=_time(row[9]),
            keep_firing_since=_time(row[10]),
            last_sent_at=_time(row[11]),
            identity=json.loads(row[12]) if row[12] else {},
        )
        for row in rows
    }


def save_instances(con: sqlite3.Connection, signal: str, instances: dict[str, Instance]) -> None:
    """Replace the signal's instances (call inside ``transaction``)."""
    con.execute("delete from instances where signal = ?", (signal,))
    con.executemany(
        'insert into instances (key, signal, labels, state, active_at, last_eval_at, value, "values", '
        "fired_at, resolved_at, keep_firing_since, last_sent_at, identity) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                key,
                i.signal,
                json.dumps(i.labels, sort_keys=True),
                i.state,
                _iso(i.active_at),
                _iso(i.last_eval_at),
                i.value,
                json.dumps(i.values, sort_keys=True),
                _iso(i.fired_at),
                _iso(i.resolved_at),
                _iso(i.keep_firing_since),
                _iso(i.last_sent_at),
                json.dumps(i.identity, sort_keys=True) if i.identity else None,
            )
            for key, i in instances.items()
        ],
    )


def record_history(con: sqlite3.Connection, notices: list[Notice], eval_at: datetime) -> None:
    con.executemany(
        "insert into alert_history values (?, ?, ?, ?, ?)",
        [
            (
                n.instance.signal,
                json.dumps(n.instance.labels, sort_keys=True),
                n.kind,
                _iso(eval_at),
                n.instance.value,
            )
            for n in notices
        ],
    )


def last_evaluations(con: sqlite3.Connection) -> dict[str, datetime]:
    """Signal -> time of its last successful evaluation."""
    rows = con.execute("select signal, last_eval_at from evaluations").fetchall()
    return {signal: _time(at) for signal, at in rows}


def record_evaluation(
    con: sqlite3.Connection, signal: str, eval_at: datetime, error: str | None
) -> None:
    """Remember when a signal was evaluated (an error keeps the last successful time)."""
    if error is None:
        con.execute(
            "insert into evaluations values (?, ?, null) on conflict (signal) do update "
            "set last_eval_at = excluded.last_eval_at, error = null",
            (signal, _iso(eval_at)),
        )
    else:
        con.execute("update evaluations set error = ? where signal = ?", (error, signal))


def copy_state(home: Home, target: Path) -> None:
    """A consistent copy of the state database at ``target`` (a scratch state: dry runs)."""
    if not state_path(home).exists():
        return
    with open_state(home) as source, contextlib.closing(sqlite3.connect(target)) as copy:
        source.backup(copy)


def evaluation_rows(con: sqlite3.Connection) -> list[tuple[str, datetime, str | None]]:
    """(signal, last successful evaluation, error of the last attempt or None), by signal."""
    rows = con.execute(
        "select signal, last_eval_at, error from evaluations order by signal"
    ).fetchall()
    return [(signal, _time(at), error) for signal, at, error in rows]


def signals_with_state(con: sqlite3.Connection) -> list[str]:
    rows = con.execute(
        "select signal from evaluations union select signal from instances order by 1"
    ).fetchall()
    return [row[0] for row in rows]


def reset_signals(con: sqlite3.Connection, signals: list[str]) -> dict[str, int]:
    """Forget the instances and last evaluation of these signals (call inside
    ``transaction``); signal -> instances dropped. The history and the outbox are kept:
    notifications already queued are still delivered."""
    dropped = {}
    for signal in signals:
        dropped[signal] = con.execute("delete from instances where signal = ?", (signal,)).rowcount
        con.execute("delete from evaluations where signal = ?", (signal,))
    return dropped


def forget_signals(con: sqlite3.Connection, keep: set[str]) -> list[str]:
    """Drop the state of signals that no longer exist (their files were removed)."""
    known = {row[0] for row in con.execute("select signal from evaluations")}
    known |= {row[0] for row in con.execute("select distinct signal from instances")}
    gone = sorted(known - keep)
    for signal in gone:
        con.execute("delete from instances where signal = ?", (signal,))
        con.execute("delete from evaluations where signal = ?", (signal,))
    return gone


@dataclass(frozen=True)
class SeenInstance:
    """An instance the live state knows of: its signal, query labels and evaluation time."""

    signal: str
    eval_at: datetime
    labels: dict[str, str]


def seen_instances(home: Home) -> list[SeenInstance]:
    """Every instance in the live state: the current ones (pending, firing, resolved) at
    their last evaluation, and every notification in the history at its evaluation.

    The one reader other stages use (retention asks which runs a signal flagged); it opens
    the database read-only and never creates or upgrades it: [] when nothing was evaluated.
    Raises FleetsignalsError for a state it cannot read.
    """
    path = state_path(home)
    if not path.is_file():
        return []
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        ) as con:
            rows = con.execute(
                "select signal, labels, last_eval_at from instances "
                "union all select signal, labels, last_eval_at from alert_history"
            ).fetchall()
    except sqlite3.Error as exc:
        raise FleetsignalsError(
            f"cannot read the alert state {path}: {exc}; `fleetsignals evaluate` upgrades "
            "an older state, and starts a new one if this file is moved aside"
        ) from None
    return [
        SeenInstance(signal, _time(at), {str(k): str(v) for k, v in json.loads(labels).items()})
        for signal, labels, at in rows
    ]
