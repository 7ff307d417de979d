"""Which runs signals flagged: the input of the ``signal_flagged`` policy (reason ``anomaly``).

A run is flagged when

- an alert instance (pending or firing) had the run's id as its ``run_id`` label; or
- it is evidence of an instance without ``run_id`` that names a group (``evidence.py``:
  the failing calls of a correlated failure, the runs above the baseline P95 of a cost
  jump or a depth tail, the outlying runs of a drift); the group's other runs are sampled
  with weights, not flagged; or
- a table in the snapshot has ``run_id`` and a true boolean ``is_anomaly`` or
  ``is_anomalous`` column, such as a fingerprint mart (tolerated when absent).

The window of an instance evaluated at T is ``(T - lookback, T]``, ``lookback`` being the
signal's ``window_minutes`` parameter when it has one (the rolling window it judged), else
its ``every``.

Sources of instances: the live alert state (``alerts.state.seen_instances``: current
instances and the notification history) and, with ``reevaluate``, a replay of every signal
over the decided period by the alerts' backtest (``alerts.backtest.run_backtest``: fresh
state, notifying nobody), each signal at multiples of its own ``every`` as the scheduler
evaluates it. Evaluation is deterministic at a bound time, so the replay finds what the
scheduler saw live, and also covers history that was ingested and built without the
scheduler (the demo, a backfill); it also gives each instance's numeric columns
(thresholds), which the alert state does not keep.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.alerts.definitions import Signal, load_signals
from fleetsignals.alerts.state import seen_instances
from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.retention.evidence import SHIPPED, EvidenceRule, GroupAlert, merge_alerts
from fleetsignals.sandbox import connect_sandbox
from fleetsignals.sqltext import quote_identifier

FLAG_SCHEMA = pa.schema([("run_id", pa.string()), ("signal", pa.string())])
# (signal, evaluation time, labels, numeric columns) of one alert instance.
Instance = tuple[str, datetime, dict[str, str], dict[str, float | None]]
EPOCH = datetime(1970, 1, 1)


def _state_instances(home: Home, notes: list[str]) -> list[Instance]:
    try:
        seen = seen_instances(home)
    except FleetsignalsError as exc:
        # A state being migrated must not stop retention; the replay still runs.
        notes.append(f"{exc}; only the replay flags runs")
        return []
    return [(i.signal, i.eval_at, i.labels, {}) for i in seen]


def _lookback(signal: Signal) -> timedelta:
    """The window an evaluation judged: ``window_minutes`` (the longest, for a signal
    testing several), else ``every``."""
    minutes = signal.params.get("window_minutes")
    if isinstance(minutes, list):
        minutes = max((m for m in minutes if isinstance(m, int | float)), default=None)
    return timedelta(minutes=float(minutes)) if isinstance(minutes, int | float) else signal.every


def _replayed_instances(
    home: Home,
    config: Config,
    start: datetime,
    end: datetime,
    progress: Callable[[str], None] | None,
    notes: list[str],
) -> tuple[list[Instance], dict[str, timedelta]]:
    """Instances of a backtest of every signal over ``start``..``end``, and each signal's
    lookback. Signals are replayed in groups of one ``every``, on that step's grid."""
    dirs = [d for d in config["signal_dirs"] if Path(d).is_dir()]
    notes += [
        f"signal dir {d} does not exist: none of its signals flags runs"
        for d in config["signal_dirs"]
        if d not in dirs
    ]
    if not dirs:
        return [], {}
    config = dataclasses.replace(config, data={**config.data, "signal_dirs": dirs})
    signals, problems = load_signals(dirs)
    notes += [f"signal not used for retention: {p}" for p in problems]
    by_every: dict[timedelta, list[str]] = {}
    for signal in signals:
        by_every.setdefault(signal.every, []).append(signal.name)
    out: list[Instance] = []
    for every, names in sorted(by_every.items()):
        first = EPOCH + ((start - EPOCH) // every + 1) * every
        if first > end:
            continue
        if progress:
            progress(f"re-evaluating {', '.join(names)} every {every}")
        result = run_backtest(home, config, first, end, every, names)
        # A failing signal flags nothing from then on (the problem says when); the others
        # still count.
        notes += [f"signal not used for retention: {p}" for p in result.problems]
        out += [(name, at, s.labels, s.values) for name, at, s in result.samples]
    return out, {s.name: _lookback(s) for s in signals}


def collect_flags(
    home: Home,
    config: Config,
    start: datetime,
    end: datetime,
    reevaluate: bool = True,
    progress: Callable[[str], None] | None = None,
    notes: list[str] | None = None,
    rules: dict[str, EvidenceRule] | None = None,
) -> tuple[pa.Table, list[GroupAlert]]:
    """(flags by run id, group alerts) for runs decided over ``start``..``end``.

    Signals and the anomaly tables are read on sandboxed snapshot connections, as
    `evaluate` reads them. Problems (a signal that fails to load or evaluate) are appended
    to ``notes``.
    """
    notes = notes if notes is not None else []
    instances = _state_instances(home, notes)
    lookbacks: dict[str, timedelta] = {}
    if reevaluate:
        replayed, lookbacks = _replayed_instances(home, config, start, end, progress, notes)
        instances += replayed
    runs: set[tuple[str, str]] = set()
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[datetime, dict]]] = {}
    for signal, at, labels, values in instances:
        if labels.get("run_id"):
            runs.add((labels["run_id"].lower(), signal))
            continue
        groups.setdefault((signal, tuple(sorted(labels.items()))), []).append((at, values))
    # One sandbox at a time: DuckDB shares a database (and its locked settings) between
    # connections of one process, so this one opens after the replay's has closed.
    with connect_sandbox(home, config) as snapshot:
        runs |= _anomaly_table_flags(snapshot)
    run_table = pa.Table.from_pylist(
        [{"run_id": r, "signal": s} for r, s in sorted(runs)], schema=FLAG_SCHEMA
    )
    return run_table, merge_alerts(groups, lookbacks, rules if rules is not None else SHIPPED)


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
        name = f"{quote_identifier(schema)}.{quote_identifier(table)}"
        rows = con.execute(
            f"select distinct run_id from {name} where {quote_identifier(column)}"
        ).fetchall()
        flagged |= {(str(r[0]).lower(), table) for r in rows if r[0]}
    return flagged
