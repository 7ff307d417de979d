"""The fingerprint steps of the dbt build: drift windows and run anomaly scores.

Called by the Python models in models/marts/fingerprints/ with the build's
DuckDB connection and the SQL of their refs. Both are incremental:

- ``compute_windows``: every window end on the 5-minute grid that the lake's
  watermark has passed and that no earlier build computed, in time order,
  each once. Alerts already stored shape the baselines of the new windows.
- ``compute_scores``: every completed run not yet scored whose window has
  been computed, against that window's baseline (a run that landed late is
  scored by a later build, against its own window's baseline).

Work is split into chunks of windows so a full refresh of a long history
never holds more than a chunk plus one baseline of runs in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from fleetsignals.fingerprints.drift import (
    PairRuns,
    RunScore,
    Settings,
    evaluate_windows,
    from_us,
    score_runs,
    to_us,
    window_grid,
    window_of,
)
from fleetsignals.fingerprints.features import SCALAR_FEATURES, transform_scalars

TS = pa.timestamp("us")
WINDOWS_SCHEMA = pa.schema(
    [
        ("window_end_at", TS),
        ("agent_name", pa.string()),
        ("prompt_variant", pa.string()),
        ("window_minutes", pa.float64()),
        ("n_current", pa.int64()),
        ("n_baseline", pa.int64()),
        ("distance", pa.float64()),
        ("statistic", pa.float64()),
        ("p_value", pa.float64()),
        ("dimensions", pa.int64()),
        ("p_threshold", pa.float64()),
        ("distance_threshold", pa.float64()),
        ("is_alert", pa.bool_()),
    ]
)
SCORES_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("agent_name", pa.string()),
        ("prompt_variant", pa.string()),
        ("ended_at", TS),
        ("scored_at", TS),
        ("anomaly_score", pa.float64()),
        ("anomaly_threshold", pa.float64()),
        ("is_anomalous", pa.bool_()),
    ]
)
CHUNK = timedelta(hours=6)
# Runs re-checked for a missing score this long before the newest score (late landings).
SCORE_LOOKBACK = timedelta(hours=2)


def settings_from(meta: dict[str, Any] | None) -> Settings:
    """Settings from the model's ``meta.fingerprint`` (minutes for durations); unknown keys fail."""
    given = dict((meta or {}).get("fingerprint") or {})
    known = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in given.items():
        name = key.removesuffix("_minutes")
        if name not in known:
            raise ValueError(f"meta.fingerprint: unknown setting {key!r} (known: {sorted(known)})")
        if key.endswith("_minutes"):
            value = (
                tuple(timedelta(minutes=float(v)) for v in value)
                if isinstance(value, list)
                else timedelta(minutes=float(value))
            )
        values[name] = value
    return Settings(**values)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    return row[0] if row else None


def load_pairs(
    con: duckdb.DuckDBPyConnection, runs_sql: str, after: datetime, through: datetime
) -> list[PairRuns]:
    """Completed runs that ended in (after, through], as per-pair arrays."""
    scalars = ", ".join(SCALAR_FEATURES)
    con.execute(
        f"""
        create or replace temp table fp_loaded as
        select
            dense_rank() over (order by agent_name, prompt_variant nulls first) - 1 as pair_idx,
            row_number() over (order by agent_name, prompt_variant nulls first, ended_at, run_id) - 1
                as row_idx,
            run_id, agent_name, prompt_variant, epoch_us(ended_at) as ended_us,
            {scalars}, tool_shares
        from ({runs_sql}) as runs
        where ended_at > ? and ended_at <= ? and agent_name is not null
        """,
        [after, through],
    )
    table = con.sql(
        f"select pair_idx, run_id, agent_name, prompt_variant, ended_us, {scalars} "
        "from fp_loaded order by row_idx"
    ).to_arrow_table()
    shares = con.execute(
        "select row_idx, pair_idx, unnest(map_keys(tool_shares)) as tool_name, "
        "unnest(map_values(tool_shares)) as share from fp_loaded"
    ).fetchnumpy()
    con.execute("drop table fp_loaded")
    if table.num_rows == 0:
        return []
    pair_idx = table["pair_idx"].to_numpy()
    starts = np.flatnonzero(np.r_[True, pair_idx[1:] != pair_idx[:-1]])
    bounds = np.r_[starts, len(pair_idx)]
    columns = {n: table[n].to_numpy(zero_copy_only=False) for n in SCALAR_FEATURES}
    x = transform_scalars({n: np.asarray(v, dtype=float) for n, v in columns.items()})
    run_ids = np.asarray(table["run_id"].to_pylist(), dtype=object)
    ended = table["ended_us"].to_numpy().astype(np.int64)
    agents, variants = table["agent_name"].to_pylist(), table["prompt_variant"].to_pylist()
    pairs = []
    for p, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        mine = shares["pair_idx"] == p
        names = np.asarray(shares["tool_name"][mine], dtype=object)
        tools, col = np.unique(names, return_inverse=True) if len(names) else ([], names)
        matrix = np.zeros((hi - lo, len(tools)))
        if len(names):
            matrix[shares["row_idx"][mine] - lo, col] = shares["share"][mine]
        pairs.append(
            PairRuns(agents[lo], variants[lo], run_ids[lo:hi], ended[lo:hi], x[lo:hi], matrix)
        )
    return pairs


def _alert_ends(
    con: duckdb.DuckDBPyConnection, windows_sql: str | None, after: datetime
) -> dict[tuple[str, str | None], list[int]]:
    if windows_sql is None:
        return {}
    rows = con.execute(
        f"select agent_name, prompt_variant, epoch_us(window_end_at) from ({windows_sql}) "
        "where is_alert and window_end_at > ? order by 3",
        [after],
    ).fetchall()
    ends: dict[tuple[str, str | None], list[int]] = {}
    for agent, variant, end in rows:
        ends.setdefault((agent, variant), []).append(int(end))
    return ends


def _chunks(ends: list[int]) -> Iterator[list[int]]:
    size = int(CHUNK.total_seconds() * 1_000_000)
    while ends:
        cut = ends[0] + size
        chunk = [e for e in ends if e < cut]
        yield chunk
        ends = ends[len(chunk) :]


def compute_windows(
    con: duckdb.DuckDBPyConnection,
    runs_sql: str,
    watermark_sql: str,
    previous_sql: str | None,
    settings: Settings,
) -> pa.Table:
    """The windows this build adds (see the module docstring)."""
    watermark = _scalar(con, f"select max(watermark_at) from ({watermark_sql})")
    first_end = _scalar(con, f"select min(ended_at) from ({runs_sql})")
    if watermark is None or first_end is None:
        return WINDOWS_SCHEMA.empty_table()
    done = (
        _scalar(con, f"select max(window_end_at) from ({previous_sql})") if previous_sql else None
    )
    start = to_us(done) + 1 if done is not None else to_us(first_end + settings.window)
    ends = window_grid(start, to_us(watermark), settings)
    alerts = _alert_ends(con, previous_sql, from_us(start) - settings.baseline - settings.window)
    batches = []
    for chunk in _chunks(ends):
        lo = from_us(chunk[0]) - settings.baseline
        pairs = load_pairs(con, runs_sql, lo, from_us(chunk[-1]))
        for pair in pairs:
            pair.alert_ends = alerts.setdefault(pair.key, [])  # shared: alerts carry over chunks
        results = evaluate_windows(pairs, chunk, settings)
        batches.append(
            pa.table(
                {
                    "window_end_at": [from_us(r.window_end_us) for r in results],
                    "agent_name": [r.agent_name for r in results],
                    "prompt_variant": [r.prompt_variant for r in results],
                    "window_minutes": [r.window_minutes for r in results],
                    "n_current": [r.n_current for r in results],
                    "n_baseline": [r.n_baseline for r in results],
                    "distance": [r.distance for r in results],
                    "statistic": [r.statistic for r in results],
                    "p_value": [r.p_value for r in results],
                    "dimensions": [r.dimensions for r in results],
                    "p_threshold": [settings.alpha] * len(results),
                    "distance_threshold": [settings.min_distance] * len(results),
                    "is_alert": [r.is_alert for r in results],
                },
                schema=WINDOWS_SCHEMA,
            )
        )
    return pa.concat_tables(batches) if batches else WINDOWS_SCHEMA.empty_table()


def compute_scores(
    con: duckdb.DuckDBPyConnection,
    runs_sql: str,
    windows_sql: str,
    previous_sql: str | None,
    settings: Settings,
) -> pa.Table:
    """Scores of the runs not scored yet whose window exists (see the module docstring)."""
    last_window = _scalar(con, f"select max(window_end_at) from ({windows_sql})")
    if last_window is None:
        return SCORES_SCHEMA.empty_table()
    since = None
    if previous_sql:
        newest = _scalar(con, f"select max(scored_at) from ({previous_sql})")
        since = newest - SCORE_LOOKBACK if newest is not None else None
    scored_filter = (
        f"and run_id not in (select run_id from ({previous_sql}))" if previous_sql else ""
    )
    pending = con.execute(
        f"select run_id, epoch_us(ended_at) as ended_us from ({runs_sql}) where ended_at <= ? "
        f"and (cast(? as timestamp) is null or ended_at > ?) {scored_filter} "
        "and agent_name is not null",
        [last_window, since, since],
    ).fetchnumpy()
    if len(pending["run_id"]) == 0:
        return SCORES_SCHEMA.empty_table()
    wanted = np.unique(window_of(pending["ended_us"], settings)).tolist()
    pending_ids = set(pending["run_id"].tolist())
    alerts = _alert_ends(con, windows_sql, from_us(wanted[0]) - settings.baseline - settings.window)
    scores: list[RunScore] = []
    for chunk in _chunks(wanted):
        lo = from_us(chunk[0]) - settings.baseline
        for pair in load_pairs(con, runs_sql, lo, from_us(chunk[-1])):
            pair.alert_ends = alerts.get(pair.key, [])
            candidates = np.flatnonzero(np.isin(window_of(pair.ended_us, settings), chunk))
            rows = np.array([i for i in candidates if pair.run_ids[i] in pending_ids], dtype=int)
            if len(rows):
                scores += score_runs(pair, rows, settings, keep_unscored=True)
    return pa.table(
        {
            "run_id": [s.run_id for s in scores],
            "agent_name": [s.agent_name for s in scores],
            "prompt_variant": [s.prompt_variant for s in scores],
            "ended_at": [from_us(s.ended_us) for s in scores],
            "scored_at": [from_us(s.scored_at_us) for s in scores],
            "anomaly_score": [s.anomaly_score for s in scores],
            "anomaly_threshold": [s.anomaly_threshold for s in scores],
            "is_anomalous": [s.is_anomalous for s in scores],
        },
        schema=SCORES_SCHEMA,
    )
