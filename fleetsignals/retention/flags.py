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

Sources of instances: the live alert state (``HOME/alerts/state.sqlite``) and a
re-evaluation of every signal over the decided period at each signal's ``every``
(as ``backtest`` does, notifying nobody). Evaluation is deterministic at a bound time,
so re-evaluating finds what the scheduler saw live, and also covers history that was
ingested and built without the scheduler (the demo, a backfill); it also gives each
instance's numeric columns (thresholds), which the alert state does not keep.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from fleetsignals.home import Home
from fleetsignals.retention.evidence import SHIPPED, EvidenceRule, GroupAlert, merge_alerts
from fleetsignals.sqltext import quote_identifier

FLAG_SCHEMA = pa.schema([("run_id", pa.string()), ("signal", pa.string())])
# (signal, evaluation time, labels, numeric columns) of one alert instance.
Instance = tuple[str, datetime, dict[str, str], dict[str, float | None]]


def _state_samples(home: Home) -> list[Instance]:
    """(signal, time, labels) of every instance in the live alert state, tolerating its absence."""
    path = home.alerts / "state.sqlite"
    if not path.is_file():
        return []
    out: list[Instance] = []
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
                labels = {str(k): str(v) for k, v in parsed.items()}
                out.append((signal, moment, labels, {}))
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
) -> tuple[list[Instance], dict[str, timedelta]]:
    from fleetsignals.alerts.definitions import load_signals
    from fleetsignals.alerts.evaluation import evaluate_signal

    dirs = [d for d in signal_dirs if Path(d).is_dir()]
    if not dirs:
        return [], {}
    signals, problems = load_signals(dirs)
    notes += [f"signal not used for retention: {p}" for p in problems]
    out: list[Instance] = []
    lookbacks: dict[str, timedelta] = {}
    for signal in signals:
        # A signal may test several windows (a list): its evidence lies in the longest.
        minutes = signal.params.get("window_minutes")
        if isinstance(minutes, list):
            minutes = max((m for m in minutes if isinstance(m, int | float)), default=None)
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
            out += [(signal.name, at, s.labels, s.values) for s in evaluation.samples]
            at += step
    return out, lookbacks


def collect_flags(
    home: Home,
    snapshot: duckdb.DuckDBPyConnection | None,
    signal_dirs: list[str],
    start: datetime,
    end: datetime,
    reevaluate: bool = True,
    progress: Callable[[str], None] | None = None,
    notes: list[str] | None = None,
    timeout: float | None = None,
    limit: int | None = None,
    rules: dict[str, EvidenceRule] | None = None,
) -> tuple[pa.Table, list[GroupAlert]]:
    """(flags by run id, group alerts) for runs decided over ``start``..``end``.

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
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[datetime, dict]]] = {}
    for signal, at, labels, values in samples:
        if labels.get("run_id"):
            runs.add((labels["run_id"].lower(), signal))
            continue
        if at != datetime.max:
            groups.setdefault((signal, tuple(sorted(labels.items()))), []).append((at, values))
    if snapshot is not None:
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
