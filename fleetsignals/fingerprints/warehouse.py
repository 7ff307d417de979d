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
        ("part_at", TS),  # publishing partition: snapshots re-export only touched hours
        ("build_id", pa.string()),
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
        ("part_at", TS),
        ("build_id", pa.string()),
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
    con: duckdb.DuckDBPyConnection,
    runs_sql: str,
    after: datetime,
    through: datetime,
    dense_after: datetime,
    settings: Settings,
) -> list[PairRuns]:
    """Completed runs that ended in (after, through], as per-pair arrays.

    Runs that ended after ``dense_after`` (the current windows) all load; older ones
    (baselines) are thinned per pair by a hash of the run id to about 1.5 x
    ``max_baseline_runs``, so a day of history at fleet scale loads in well under a
    second (the engine thins each baseline evenly to the exact cap).
    """
    scalars = ", ".join(SCALAR_FEATURES)
    con.execute(
        f"""
        create or replace temp table fp_loaded as
        with

        source as (
            select
                run_id, agent_name, prompt_variant, ended_at, {scalars}, tool_call_count,
                tool_shares
            from ({runs_sql}) as runs
            where ended_at > $after and ended_at <= $through and agent_name is not null
        ),

        counts as (
            select
                agent_name,
                prompt_variant,
                count(*) filter (where ended_at <= $dense) as n_old,
                row_number() over (order by agent_name, prompt_variant nulls first) - 1
                    as pair_idx
            from source
            group by agent_name, prompt_variant
        )

        select
            counts.pair_idx,
            row_number() over (order by counts.pair_idx, source.ended_at, source.run_id) - 1
                as row_idx,
            source.run_id, source.agent_name, source.prompt_variant,
            epoch_us(source.ended_at) as ended_us,
            {", ".join(f"source.{c}" for c in SCALAR_FEATURES)}, source.tool_call_count,
            source.tool_shares
        from source
        inner join counts
            on source.agent_name = counts.agent_name
            and source.prompt_variant is not distinct from counts.prompt_variant
        where
            source.ended_at > $dense
            or hash(source.run_id) % greatest(1, ceil(counts.n_old / $keep))::ubigint = 0
        """,
        {"after": after, "through": through, "dense": dense_after,
         "keep": 1.5 * settings.max_baseline_runs},
    )  # fmt: skip
    table = con.sql(
        f"select pair_idx, run_id, agent_name, prompt_variant, ended_us, {scalars}, "
        "tool_call_count from fp_loaded order by row_idx"
    ).to_arrow_table()
    shares = con.sql(
        "select row_idx, dense_rank() over (partition by pair_idx order by entry.key) - 1 "
        "as tool_idx, entry.value as share "
        "from (select row_idx, pair_idx, unnest(map_entries(tool_shares)) as entry "
        "from fp_loaded) order by row_idx"
    ).fetchnumpy()
    con.execute("drop table fp_loaded")
    if table.num_rows == 0:
        return []
    pair_idx = table["pair_idx"].to_numpy()
    bounds = np.r_[np.flatnonzero(np.r_[True, pair_idx[1:] != pair_idx[:-1]]), len(pair_idx)]
    columns = {n: np.asarray(table[n].to_numpy(zero_copy_only=False), dtype=float)
               for n in SCALAR_FEATURES}  # fmt: skip
    x = transform_scalars(columns)
    run_ids = table["run_id"].to_numpy(zero_copy_only=False)
    ended = table["ended_us"].to_numpy().astype(np.int64)
    tool_calls = np.nan_to_num(
        np.asarray(table["tool_call_count"].to_numpy(zero_copy_only=False), dtype=float)
    )
    agents, variants = table["agent_name"], table["prompt_variant"]
    share_rows = np.asarray(shares["row_idx"], dtype=np.int64)
    tool_idx = np.asarray(shares["tool_idx"], dtype=np.int64)
    share = np.asarray(shares["share"], dtype=float)
    pairs = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        a, b = np.searchsorted(share_rows, [lo, hi])
        width = int(tool_idx[a:b].max()) + 1 if b > a else 0
        matrix = np.zeros((hi - lo, width))
        matrix[share_rows[a:b] - lo, tool_idx[a:b]] = share[a:b]
        pairs.append(
            PairRuns(
                agents[int(lo)].as_py(),
                variants[int(lo)].as_py(),
                run_ids[lo:hi],
                ended[lo:hi],
                x[lo:hi],
                matrix,
                tool_calls=tool_calls[lo:hi],
            )  # fmt: skip
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


def _hour(us: int) -> datetime:
    return from_us(us).replace(minute=0, second=0, microsecond=0)


def _this_build(con: duckdb.DuckDBPyConnection, watermark_sql: str) -> str | None:
    """The running build's id: its int_build_watermarks_recorded row is written before the marts."""
    return _scalar(con, f"select arg_max(build_id, build_seq) from ({watermark_sql})")


def _active(
    con: duckdb.DuckDBPyConnection, runs_sql: str, ends: list[int], settings: Settings
) -> list[int]:
    """The window ends with a run that ended within baseline + window before them.

    Any other end has nothing to test (no current and no baseline run). Skipping
    them keeps a lake with gaps (an old file landed beside today's data) from
    walking years of empty 5-minute steps.
    """
    if not ends:
        return ends
    horizon = int((settings.baseline + settings.window).total_seconds() * 1_000_000)
    ended = con.execute(
        f"select distinct epoch_us(ended_at) from ({runs_sql}) "
        "where ended_at > make_timestamp($lo) and ended_at <= make_timestamp($hi) order by 1",
        {"lo": ends[0] - horizon, "hi": ends[-1]},
    ).fetchnumpy()
    ended_us = next(iter(ended.values())) if ended else np.empty(0, dtype=np.int64)
    grid = np.asarray(ends, dtype=np.int64)
    newest_before = np.searchsorted(ended_us, grid, side="right")  # runs ended at or before
    oldest_within = np.searchsorted(ended_us, grid - horizon, side="right")
    return grid[newest_before > oldest_within].tolist()


def compute_windows(
    con: duckdb.DuckDBPyConnection,
    runs_sql: str,
    watermark_sql: str,
    previous_sql: str | None,
    settings: Settings,
) -> pa.Table:
    """The windows this build adds (see the module docstring)."""
    build_id = _this_build(con, watermark_sql)
    watermark = _scalar(con, f"select max(watermark_at) from ({watermark_sql})")
    first_end = _scalar(con, f"select min(ended_at) from ({runs_sql})")
    if watermark is None or first_end is None:
        return WINDOWS_SCHEMA.empty_table()
    done = (
        _scalar(con, f"select max(window_end_at) from ({previous_sql})") if previous_sql else None
    )
    start = to_us(done) + 1 if done is not None else to_us(first_end + settings.window)
    ends = _active(con, runs_sql, window_grid(start, to_us(watermark), settings), settings)
    alerts = _alert_ends(con, previous_sql, from_us(start) - settings.baseline - settings.window)
    batches = []
    for chunk in _chunks(ends):
        lo = from_us(chunk[0]) - settings.baseline
        dense = from_us(chunk[0]) - settings.window
        pairs = load_pairs(con, runs_sql, lo, from_us(chunk[-1]), dense, settings)
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
                    "part_at": [_hour(r.window_end_us) for r in results],
                    "build_id": [build_id] * len(results),
                },
                schema=WINDOWS_SCHEMA,
            )
        )
    return pa.concat_tables(batches) if batches else WINDOWS_SCHEMA.empty_table()


def compute_scores(
    con: duckdb.DuckDBPyConnection,
    runs_sql: str,
    windows_sql: str,
    watermark_sql: str,
    previous_sql: str | None,
    settings: Settings,
) -> pa.Table:
    """Scores of the runs not scored yet whose window exists (see the module docstring)."""
    build_id = _this_build(con, watermark_sql)
    last_window = _scalar(con, f"select max(window_end_at) from ({windows_sql})")
    if last_window is None:
        return SCORES_SCHEMA.empty_table()
    since = None
    if previous_sql:
        newest = _scalar(con, f"select max(scored_at) from ({previous_sql})")
        since = newest - SCORE_LOOKBACK if newest is not None else None
    # Runs scored before: only those that ended after `since` can be candidates again.
    scored = (
        f"and run_id not in (select run_id from ({previous_sql}) "
        "where cast($since as timestamp) is null or ended_at > $since)"
        if previous_sql
        else ""
    )
    pending = con.execute(
        f"select run_id, epoch_us(ended_at) as ended_us from ({runs_sql}) "
        "where ended_at <= $last and (cast($since as timestamp) is null or ended_at > $since) "
        f"and agent_name is not null {scored}",
        {"last": last_window, "since": since},
    ).fetchnumpy()
    if len(pending["run_id"]) == 0:
        return SCORES_SCHEMA.empty_table()
    wanted = np.unique(window_of(pending["ended_us"], settings)).tolist()
    pending_ids = set(pending["run_id"].tolist())
    alerts = _alert_ends(con, windows_sql, from_us(wanted[0]) - settings.baseline - settings.window)
    scores: list[RunScore] = []
    for chunk in _chunks(wanted):
        lo = from_us(chunk[0]) - settings.baseline
        dense = from_us(chunk[0]) - settings.step
        for pair in load_pairs(con, runs_sql, lo, from_us(chunk[-1]), dense, settings):
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
            "part_at": [_hour(s.scored_at_us) for s in scores],
            "build_id": [build_id] * len(scores),
        },
        schema=SCORES_SCHEMA,
    )
