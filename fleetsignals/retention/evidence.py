"""The evidence of a group alert: the runs that carry the anomaly, kept whole.

An alert instance without ``run_id`` names a group (``agent_name``, ``prompt_variant``,
``tool_name``, ...) and says "something is wrong in this group", not "every run of it is
wrong". Keeping every run of a group under alert kept most of a busy group's healthy runs
whole. Instead, per instance:

- the **evidence** runs are kept whole (reason ``anomaly``, weight 1); which runs carry
  the anomaly follows from what the signal tested (``EvidenceRule``, by signal name);
- the group's **other runs** get a weighted sample (reason ``sampled``): each is kept with
  probability ``p = min(1, max(group_sample_rate, group_min_runs / n))``, ``n`` = the
  group's runs that are not evidence, and weight ``1 / p``. So an investigator always has
  about ``group_min_runs`` healthy runs of the group to compare with, and estimates over
  the kept spans stay unbiased: ``p`` depends on the facts only, never on the run's hash,
  and the same hash as the uniform sample is used, so the run's inclusion probability is
  the largest rate that applies to it.

Rules (``kind``):

- ``failed_call``: runs of the group with a failed call (``fct_tool_calls.is_error``) of
  the tool named by the instance's ``tool_name`` label, ended in the instance's window.
  The group is the runs matching the labels that called the tool in the window (a
  tool-wide failure names no run column). Shipped: ``correlated_failure``.
- ``above``: runs of the group that ended in the window of an evaluation with ``column``
  greater than that evaluation's numeric column ``threshold`` (the baseline quantile the
  signal compared against). Shipped: ``p95_cost_jump`` (cost_usd > base_p95),
  ``depth_tail`` (step_count > base_p95).
- ``anomalous``: runs of the group that ended in the window whose score in
  ``fct_run_anomaly_scores`` is above the P95 of the group's scores over the 24 hours
  before the alert (the outlying runs, as a cost jump's runs above the baseline P95;
  without 20 such scores, the P95 of the group's scores during the alert), or that it
  marks ``is_anomalous``. Shipped: ``fingerprint_drift``.
- ``none``: no evidence runs; the group is only sampled. The default for any other
  signal whose instances name a group without ``run_id`` (an analyst's own signal): its
  failed, timed-out and cost-tail runs are kept by those policies anyway.

Instances with a ``run_id`` label name their evidence themselves (``stuck_agent``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from fleetsignals.errors import FleetsignalsError
from fleetsignals.sqltext import quote_identifier

KINDS = ("failed_call", "above", "anomalous", "none")
# anomalous: the baseline of a drift (fct_run_anomaly_scores scores a window's runs against
# the 24 hours before it) and the fewest scores whose P95 is worth comparing with (1 / 5 %).
BASELINE = timedelta(hours=24)
MIN_BASELINE = 20


@dataclass(frozen=True)
class EvidenceRule:
    kind: str = "none"
    column: str | None = None  # above: the fct_runs column compared
    threshold: str | None = None  # above: the instance's numeric column holding the bound
    label: str = "tool_name"  # failed_call: the label naming the tool


SHIPPED: dict[str, EvidenceRule] = {
    "correlated_failure": EvidenceRule("failed_call", label="tool_name"),
    "p95_cost_jump": EvidenceRule("above", column="cost_usd", threshold="base_p95"),
    "depth_tail": EvidenceRule("above", column="step_count", threshold="base_p95"),
    "fingerprint_drift": EvidenceRule("anomalous"),
}


def parse_rules(given: Any) -> dict[str, EvidenceRule]:
    """``retention.evidence`` (signal name -> rule) over the shipped rules."""
    rules = dict(SHIPPED)
    if given in (None, {}):
        return rules
    if not isinstance(given, dict):
        raise FleetsignalsError(
            "retention.evidence must map a signal name to a rule, e.g. "
            "{my_signal: {kind: above, column: cost_usd, threshold: base_p95}}"
        )
    for signal, raw in given.items():
        where = f"retention.evidence.{signal}"
        if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
            raise FleetsignalsError(f"{where}: give kind, one of {', '.join(KINDS)}")
        unknown = set(raw) - {"kind", "column", "threshold", "label"}
        if unknown:
            raise FleetsignalsError(
                f"{where}: unknown key {sorted(unknown)[0]!r} (known: kind, column, threshold, "
                "label)"
            )
        rule = EvidenceRule(
            raw["kind"], raw.get("column"), raw.get("threshold"), raw.get("label", "tool_name")
        )
        if rule.kind == "above" and not (
            isinstance(rule.column, str) and isinstance(rule.threshold, str)
        ):
            raise FleetsignalsError(
                f"{where}: kind above needs column (of fct_runs) and threshold (a numeric "
                "column the signal returns)"
            )
        if not isinstance(rule.label, str):
            raise FleetsignalsError(f"{where}: label must name a label of the signal")
        rules[str(signal)] = rule
    return rules


@dataclass(frozen=True)
class GroupAlert:
    """One instance of a group-naming signal over consecutive evaluations.

    ``times`` holds each evaluation time with its threshold (None when the instance came
    from the alert state, which keeps no values); the window of an evaluation at T is
    ``(T - lookback, T]``, and ``(low, high]`` is their union.
    """

    signal: str
    labels: tuple[tuple[str, str], ...]
    low: datetime
    high: datetime
    lookback: timedelta
    times: tuple[tuple[datetime, float | None], ...]


def merge_alerts(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[datetime, dict]]],
    lookbacks: dict[str, timedelta],
    rules: dict[str, EvidenceRule],
) -> list[GroupAlert]:
    """Consecutive evaluations of one instance (gaps up to its lookback) become one alert."""
    out: list[GroupAlert] = []
    for (signal, labels), seen in sorted(found.items(), key=lambda kv: kv[0]):
        lookback = lookbacks.get(signal, timedelta(minutes=5))
        rule = rules.get(signal, EvidenceRule())
        bounds: dict[datetime, float | None] = {}
        for at, values in seen:
            bound = values.get(rule.threshold) if rule.threshold else None
            if bounds.get(at) is None:
                bounds[at] = float(bound) if isinstance(bound, int | float) else None
        times = sorted(bounds)
        start = 0
        for i in range(1, len(times) + 1):
            if i == len(times) or times[i] - times[i - 1] > lookback:
                part = tuple((t, bounds[t]) for t in times[start:i])
                out.append(
                    GroupAlert(
                        signal, labels, times[start] - lookback, times[i - 1], lookback, part
                    )
                )
                start = i
    return out


def _label_match(labels: dict[str, str], run_columns: set[str]) -> tuple[str, dict[str, str]]:
    named = [(k, v) for k, v in sorted(labels.items()) if k in run_columns]
    where = " and ".join(
        f"cast(r.{quote_identifier(k)} as varchar) = $l{i}" for i, (k, _) in enumerate(named)
    )
    return where or "true", {f"l{i}": v for i, (_, v) in enumerate(named)}


def _wh_table(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    # fetchall, never fetchone: DuckDB 2.0 counts a result read with fetchone as unfinished,
    # and the relation API (decide) then refuses to run on the connection.
    found = con.execute(
        "select table_schema from information_schema.tables "
        "where table_catalog = 'wh' and table_name = $name order by table_schema = 'main' desc",
        {"name": name},
    ).fetchall()
    return f"wh.{quote_identifier(found[0][0])}.{quote_identifier(name)}" if found else None


def insert_evidence(
    con: duckdb.DuckDBPyConnection,
    alerts: list[GroupAlert],
    rules: dict[str, EvidenceRule],
    run_columns: set[str],
    group_rate: float,
    min_runs: int,
) -> None:
    """Add each alert's evidence runs to ``flags`` and its other runs' rates to ``group_rates``.

    Needs the ``runs`` and ``flags`` relations; creates ``group_rates(run_id, signal, rate)``.
    """
    con.execute(
        "create or replace temp table group_rates (run_id varchar, signal varchar, rate double)"
    )
    con.execute("create or replace temp table group_members (run_id varchar)")
    tool_calls = _wh_table(con, "fct_tool_calls")
    scores = _wh_table(con, "fct_run_anomaly_scores")
    for alert in alerts:
        labels = dict(alert.labels)
        rule = rules.get(alert.signal, EvidenceRule())
        match, params = _label_match(labels, run_columns)
        window = {"low": alert.low, "high": alert.high}
        tool = labels.get(rule.label) if rule.kind == "failed_call" else None
        if rule.kind == "failed_call" and tool is not None and tool_calls is not None:
            calls = (
                f"select distinct run_id, is_error from {tool_calls} "
                "where tool_name = $tool and ended_at > $low and ended_at <= $high"
            )
            con.execute(
                "create or replace temp table group_members as "
                f"select distinct r.run_id, c.has_failed from runs as r inner join ("
                f"  select run_id, bool_or(is_error) as has_failed from ({calls}) group by run_id"
                f") as c on c.run_id = r.run_id where {match}",
                {**params, **window, "tool": tool},
            )
            con.execute(
                "insert into flags select run_id, $signal from group_members where has_failed",
                {"signal": alert.signal},
            )
        elif match == "true":
            continue  # names no run column: it names no runs (an unknown tool-wide alert)
        else:
            con.execute(
                "create or replace temp table group_members as select r.run_id from runs as r "
                f"where {match} and r.started_at <= $high "
                "and (r.end_for_retention is null or r.end_for_retention > $low)",
                {**params, **window},
            )
            _insert_evidence_of_group(con, alert, rule, match, params, scores, run_columns)
        rest = con.execute(
            "select count(*) from group_members where run_id not in (select run_id from flags)"
        ).fetchall()[0][0]
        if rest:
            rate = min(1.0, max(group_rate, min_runs / rest))
            con.execute(
                "insert into group_rates select run_id, $signal, $rate from group_members",
                {"signal": alert.signal, "rate": rate},
            )


def _insert_evidence_of_group(
    con: duckdb.DuckDBPyConnection,
    alert: GroupAlert,
    rule: EvidenceRule,
    match: str,
    params: dict[str, str],
    scores: str | None,
    run_columns: set[str],
) -> None:
    ended = "r.end_for_retention > $low and r.end_for_retention <= $high"
    window = {"low": alert.low, "high": alert.high, "signal": alert.signal}
    if rule.kind == "anomalous" and scores is not None:
        # The drift's outlying runs: above the baseline P95 of the group's own scores (as a
        # cost jump's runs above the baseline P95 cost), or marked is_anomalous. The
        # baseline is the group's scored runs of the BASELINE before the alert's first
        # window. A pair alerting soon after its scoring began has no such baseline: then
        # the P95 of the group's scores during the alert (its top 5 %). A P95 of fewer
        # than MIN_BASELINE scores means nothing: then only the marks count.
        bound = _score_p95(con, scores, match, params, alert.low - BASELINE, alert.low)
        if bound is None:
            bound = _score_p95(con, scores, match, params, alert.low, alert.high)
        con.execute(
            "insert into flags select r.run_id, $signal from runs as r "
            f"inner join {scores} as s on s.run_id = r.run_id "
            f"where {match} and {ended} "
            "and (s.is_anomalous or s.anomaly_score > $bound)",
            {**params, **window, "bound": bound},
        )
    elif rule.kind == "above" and rule.column in run_columns:
        bounds = [(t - alert.lookback, t, b) for t, b in alert.times if b is not None]
        if not bounds:
            return  # from the alert state only, which keeps no thresholds
        con.register(
            "evidence_bounds",
            pa.table(
                {
                    "low": [b[0] for b in bounds],
                    "high": [b[1] for b in bounds],
                    "bound": pa.array([b[2] for b in bounds], pa.float64()),
                }
            ),
        )
        try:
            con.execute(
                "insert into flags select distinct r.run_id, $signal from runs as r "
                "inner join evidence_bounds as b "
                "on r.end_for_retention > b.low and r.end_for_retention <= b.high "
                f"where {match} and {ended} and r.{quote_identifier(rule.column)} > b.bound",
                {**params, **window},
            )
        finally:
            con.unregister("evidence_bounds")


def _score_p95(
    con: duckdb.DuckDBPyConnection,
    scores: str,
    match: str,
    params: dict[str, str],
    start: datetime,
    end: datetime,
) -> float | None:
    """P95 of the anomaly scores of the group's runs that ended in (start, end], if enough."""
    return con.execute(
        "select case when count(s.anomaly_score) >= $least "
        "then quantile_cont(s.anomaly_score, 0.95) end "
        f"from {scores} as s inner join wh_runs as r on r.run_id = s.run_id "
        f"where {match} and r.ended_at > $start and r.ended_at <= $end",
        {**params, "start": start, "end": end, "least": MIN_BASELINE},
    ).fetchall()[0][0]
