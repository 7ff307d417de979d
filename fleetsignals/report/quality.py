"""Quality labels in the report: per agent and prompt variant, the current labels of the
window's runs (fct_run_scores) by score name and source: bad share, mean score, coverage,
delay; and the quality_drop alerts' periods come with the other alerts."""

from __future__ import annotations

from typing import Any

import duckdb

from fleetsignals.report.markup import count, duration, esc, kpis, note, pct, table
from fleetsignals.report.queries import fetch_dicts, has_table, label
from fleetsignals.report.window import Window

TOP = 30  # rows shown: the groups with the largest bad share among those with labels


def query_quality(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, Any] | None:
    """Label figures of the runs that started in the window; None without the marts."""
    if not has_table(con, "fct_run_scores"):
        return None
    params = {"start": window.start, "end": window.end}
    rows = fetch_dicts(
        con,
        """
        with runs as (
            select run_id, agent_name, prompt_variant
            from fct_runs
            where started_at between $start and $end and status != 'running'
        ),
        scores as (
            select s.*
            from fct_run_scores as s
            inner join runs as r on s.run_id = r.run_id
        ),
        ran as (
            select agent_name, prompt_variant, count(*) as ended_runs
            from runs group by all
        )
        select s.agent_name, s.prompt_variant, s.name, s.source, count(*) as labels,
            count(*) filter (where s.is_bad) as bad, avg(s.score) as mean_score,
            count(*) / any_value(ran.ended_runs) as coverage,
            quantile_cont(s.label_delay_ms, 0.5) as delay_ms
        from scores as s
        inner join ran
            on s.agent_name is not distinct from ran.agent_name
            and s.prompt_variant is not distinct from ran.prompt_variant
        group by s.agent_name, s.prompt_variant, s.name, s.source
        order by count(*) filter (where s.is_bad) * 1.0 / count(*) desc, count(*) desc
        """,
        params,
    )
    totals = con.execute(
        """
        select count(*), count(*) filter (where is_bad), count(distinct run_id),
            count(*) filter (where not has_run)
        from fct_run_scores
        """
    ).fetchone()
    return {"groups": rows, "labels": totals[0], "bad": totals[1], "runs": totals[2],
            "waiting": totals[3]}  # fmt: skip


def quality_section(quality: dict[str, Any] | None) -> str:
    if quality is None or not quality["labels"]:
        return note(
            "No quality labels yet: land human feedback or judge scores with `fleetsignals "
            "label PATH...`, or send OTel GenAI evaluation events with your traces "
            "(docs/labels.md)."
        )
    body = kpis(
        [
            ("current labels", count(quality["labels"])),
            ("bad", pct(quality["bad"] / quality["labels"])),
            ("labelled runs", count(quality["runs"])),
            ("waiting for their run", count(quality["waiting"])),
        ]
    )
    if not quality["groups"]:
        return body + note("No labelled run started in the report window.")
    body += (
        "<p>Runs that started in the window, their current label per score name and source "
        "(a later label supersedes an earlier one). Coverage: labelled runs of the group's "
        "ended runs. Delay: from the run's end to the label's landing (median).</p>"
    )
    rows = [
        [
            esc(label(g["agent_name"])),
            esc(label(g["prompt_variant"])),
            esc(g["name"]),
            esc(g["source"]),
            count(g["labels"]),
            pct(g["bad"] / g["labels"]),
            "" if g["mean_score"] is None else f"{float(g['mean_score']):.3f}",
            pct(float(g["coverage"])),
            duration(g["delay_ms"]),
        ]
        for g in quality["groups"][:TOP]
    ]
    headers = ["agent", "prompt variant", "score", "source", "labels", "bad", "mean score",
               "coverage", "delay"]  # fmt: skip
    return body + table(headers, rows, numeric=[4, 5, 6, 7, 8], raw=True)
