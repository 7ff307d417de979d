"""Which runs a signal flagged: the input of the ``signal_flagged`` policy (reason ``anomaly``).

A run is flagged when, at some evaluation time T,

- an alert instance (pending or firing) had the run's id as its ``run_id`` label; or
- an instance without ``run_id`` had labels naming run dimensions (``agent_name``,
  ``prompt_variant``, ... any column of ``fct_runs``) that all equal the run's, and the
  run was in that instance's window: it ended in ``(T - lookback, T]`` or was still
  running at T. ``lookback`` is the signal's ``window_minutes`` parameter when it has
  one (the rolling window it judged), else its ``every``. Labels that are not run
  columns (``tool_name``) are ignored; an instance with no run-column label flags
  nothing (it names no runs);
- a table in the snapshot has ``run_id`` and a true boolean ``is_anomaly`` or
  ``is_anomalous`` column, such as a fingerprint mart (tolerated when absent).

Sources of instances: the live alert state (``HOME/alerts/state.sqlite``) and a
re-evaluation of every signal over the decided period at each signal's ``every``
(as ``backtest`` does, notifying nobody). Evaluation is deterministic at a bound time,
so re-evaluating finds what the scheduler saw live, and also covers history that was
ingested and built without the scheduler (the demo, a backfill).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from fleetsignals.home import Home
from fleetsignals.retention.policies import quote

FLAG_SCHEMA = pa.schema([("run_id", pa.string()), ("signal", pa.string())])


def _state_samples(home: Home) -> list[tuple[str, datetime, dict[str, str]]]:
    """(signal, time, labels) of every instance in the live alert state, tolerating its absence."""
    path = home.alerts / "state.sqlite"
    if not path.is_file():
        return []
    out: list[tuple[str, datetime, dict[str, str]]] = []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
        for table in sorted(t for t in tables if t == "instances" or "history" in t):
            columns = {r[1] for r in con.execute(f"pragma table_info({table})")}
            if not {"signal", "labels"} <= columns:
                continue
            when = "last_eval_at" if "last_eval_at" in columns else "null"
            for signal, labels, at in con.execute(f"select signal, labels, {when} from {table}"):
                try:
                    parsed = json.loads(labels)
                except (TypeError, ValueError):
                    continue
                moment = datetime.fromisoformat(at) if at else datetime.max
                out.append((signal, moment, {str(k): str(v) for k, v in parsed.items()}))
    except sqlite3.Error:
        return out  # a state being migrated must not stop retention; re-evaluation still runs
    finally:
        con.close()
    return out


def _evaluated_samples(
    con: duckdb.DuckDBPyConnection,
    signal_dirs: list[str],
    start: datetime,
    end: datetime,
    progress: Callable[[str], None] | None,
    notes: list[str],
    timeout: float | None,
    limit: int | None,
) -> tuple[list[tuple[str, datetime, dict[str, str]]], dict[str, timedelta]]:
    from alerts.definitions import load_signals
    from alerts.evaluation import evaluate_signal

    dirs = [d for d in signal_dirs if Path(d).is_dir()]
    if not dirs:
        return [], {}
    signals, problems = load_signals(dirs)
    notes += [f"signal not used for retention: {p}" for p in problems]
    out: list[tuple[str, datetime, dict[str, str]]] = []
    lookbacks: dict[str, timedelta] = {}
    for signal in signals:
        minutes = signal.params.get("window_minutes")
        lookbacks[signal.name] = (
            timedelta(minutes=float(minutes)) if isinstance(minutes, int | float) else signal.every
        )
        if progress:
            progress(f"re-evaluating signal {signal.name}")
        step = signal.every
        # Align to the step, as the scheduler evaluates at multiples of `every`.
        epoch = datetime(1970, 1, 1)
        at = epoch + ((start - epoch) // step + 1) * step
        while at <= end:
            evaluation = evaluate_signal(con, signal, at, timeout, limit)
            if evaluation.error:
                # A failing signal flags nothing; the others still count (as in `evaluate`).
                notes.append(f"signal {signal.name} skipped at {at}: {evaluation.error}")
                break
            out += [(signal.name, at, s.labels) for s in evaluation.samples]
            at += step
    return out, lookbacks


@dataclass(frozen=True)
class GroupFlag:
    """Runs whose columns equal ``labels`` and that overlap ``(low, high]`` were flagged."""

    signal: str
    labels: tuple[tuple[str, str], ...]
    low: datetime
    high: datetime


def _merge_groups(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], list[datetime]],
    lookbacks: dict[str, timedelta],
) -> list[GroupFlag]:
    """Consecutive evaluation times of one instance become one interval."""
    out: list[GroupFlag] = []
    for (signal, labels), times in sorted(found.items()):
        lookback = lookbacks.get(signal, timedelta(minutes=5))
        times = sorted(set(times))
        low = high = times[0]
        for t in times[1:]:
            if t - high > lookback:
                out.append(GroupFlag(signal, labels, low - lookback, high))
                low = t
            high = t
        out.append(GroupFlag(signal, labels, low - lookback, high))
    return out


def collect_flags(
    home: Home,
    snapshot: duckdb.DuckDBPyConnection | None,
    signal_dirs: list[str],
    start: datetime,
    end: datetime,
    run_columns: set[str],
    reevaluate: bool = True,
    progress: Callable[[str], None] | None = None,
    notes: list[str] | None = None,
    timeout: float | None = None,
    limit: int | None = None,
) -> tuple[pa.Table, list[GroupFlag]]:
    """(flags by run id, group flags) for runs decided over ``start``..``end``.

    Problems (a signal that fails to load or evaluate) are appended to ``notes``.
    """
    notes = notes if notes is not None else []
    samples = _state_samples(home)
    lookbacks: dict[str, timedelta] = {}
    if reevaluate and snapshot is not None:
        evaluated, lookbacks = _evaluated_samples(
            snapshot, signal_dirs, start, end, progress, notes, timeout, limit
        )
        samples += evaluated
    runs: set[tuple[str, str]] = set()
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[datetime]] = {}
    for signal, at, labels in samples:
        if labels.get("run_id"):
            runs.add((labels["run_id"].lower(), signal))
            continue
        named = tuple(sorted((k, v) for k, v in labels.items() if k in run_columns))
        if named and at != datetime.max:
            groups.setdefault((signal, named), []).append(at)
    if snapshot is not None:
        runs |= _anomaly_table_flags(snapshot)
    run_table = pa.Table.from_pylist(
        [{"run_id": r, "signal": s} for r, s in sorted(runs)], schema=FLAG_SCHEMA
    )
    return run_table, _merge_groups(groups, lookbacks)


def _anomaly_table_flags(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """Runs marked anomalous by any snapshot table (e.g. the fingerprint mart's run scores)."""
    tables = con.execute(
        "select distinct c.table_schema, c.table_name, c.column_name "
        "from information_schema.columns as c "
        "inner join information_schema.columns as r "
        "    on r.table_schema = c.table_schema and r.table_name = c.table_name "
        "    and r.column_name = 'run_id' "
        "where c.column_name in ('is_anomaly', 'is_anomalous') and c.data_type = 'BOOLEAN'"
    ).fetchall()
    flagged: set[tuple[str, str]] = set()
    for schema, table, column in tables:
        name = f"{quote(schema)}.{quote(table)}"
        rows = con.execute(f"select distinct run_id from {name} where {quote(column)}").fetchall()
        flagged |= {(str(r[0]).lower(), table) for r in rows if r[0]}
    return flagged


def insert_group_flags(con: duckdb.DuckDBPyConnection, groups: list[GroupFlag]) -> None:
    """Add the runs of flagged groups to ``flags`` (needs the ``runs`` relation)."""
    for g in groups:
        where = " and ".join(
            f"cast({quote(k)} as varchar) = $l{i}" for i, (k, _) in enumerate(g.labels)
        )
        params = {f"l{i}": v for i, (_, v) in enumerate(g.labels)}
        con.execute(
            "insert into flags select run_id, $signal from runs "
            f"where {where} and started_at <= $high "
            "and (end_for_retention is null or end_for_retention > $low)",
            {**params, "signal": g.signal, "low": g.low, "high": g.high},
        )
