"""Overview, alerts and per-agent sections: their HTML and the charts they draw."""

from __future__ import annotations

import math
from typing import Any

from fleetsignals.report.agents import AgentWindows
from fleetsignals.report.firing import Firing
from fleetsignals.report.markup import (
    PALETTE,
    count,
    esc,
    kpis,
    note,
    pct,
    swatch,
    table,
    usd,
    when,
)
from fleetsignals.report.page import Page
from fleetsignals.report.queries import epoch

MAX_AGENTS = 24  # agent charts drawn; busier agents first


def clean(values: list[Any]) -> list[float | None]:
    """Chart values: numbers or None (JSON has no NaN; uPlot draws None as a gap)."""
    out: list[float | None] = []
    for v in values:
        if v is None:
            out.append(None)
        else:
            f = float(v)
            out.append(f if math.isfinite(f) else None)
    return out


# Alert colours leave out the two the agent charts' series use (blue, orange).
ALERT_COLORS = PALETTE[3:7] + PALETTE[8:] + PALETTE[2:3] + PALETTE[7:8]


def signal_colors(firing: Firing) -> dict[str, str]:
    names = sorted({e["signal"] for e in firing.episodes} | set(firing.signals))
    return {name: ALERT_COLORS[i % len(ALERT_COLORS)] for i, name in enumerate(names)}


def bands(episodes: list[dict[str, Any]], colors: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "from": epoch(e["start"]),
            "to": epoch(e["end"]),
            "label": e["signal"],
            "color": colors[e["signal"]] + "40",  # translucent: series stay readable
        }
        for e in episodes
    ]


def unknown_cost_text(totals: dict[str, Any]) -> str:
    """Why some runs' cost is unknown: LLM calls without a price, or without token usage
    (an unknown cost is never shown as free)."""
    models = totals["unpriced_models"]
    reasons = (
        f"no price for their model ({', '.join(models[:5])}; add price rows, docs/warehouse.md)"
        " or no token usage reported"
        if models
        else "no token usage reported and no cost on the span"
    )
    return (
        f"{totals['unpriced_runs']:,} runs have an unknown cost: {totals['unpriced_calls']:,} of "
        f"their LLM calls have {reasons}. The cost shown counts only the priced calls."
    )


def overview_section(
    page: Page,
    totals: dict[str, Any],
    hourly: dict[str, list],
    fleet_bands: list[dict[str, Any]],
) -> str:
    cards = [
        ("runs", count(totals["runs"])),
        ("failed (error or timeout)", pct(totals["error_rate"]) or "n/a"),
        ("cost", usd(totals["cost_usd"])),
        ("agents", count(totals["agents"])),
        ("LLM calls", count(totals["llm_calls"])),
        ("tool calls", count(totals["tool_calls"])),
        ("still running", count(totals["running_runs"])),
    ]
    body = kpis(cards)
    if totals["unpriced_runs"]:
        body += note(unknown_cost_text(totals), "warn")
    if not totals["runs"]:
        return body + note("No runs started in this window.")
    body += '<div class="grid2">'
    body += page.chart(
        "overview-runs",
        {
            "kind": "time",
            "title": "Runs and failure rate per hour",
            "x": hourly["t"],
            "series": [
                {"label": "runs", "values": hourly["runs"], "style": "bars",
                 "color": PALETTE[0], "fmt": "int"},
                {"label": "failed share", "values": clean(hourly["error_rate"]),
                 "color": "#a40e26", "fmt": "pct", "axis": "y2"},
            ],
            "axes": {"y": "runs started", "y2": "error or timeout"},
            "bands": fleet_bands,
        },
        "Bars: runs started in the hour. Line: share of the hour's finished runs that "
        "failed. Shaded: alerts without an agent label were firing.",
    )  # fmt: skip
    body += page.chart(
        "overview-cost",
        {
            "kind": "time",
            "title": "Cost per hour (USD)",
            "x": hourly["t"],
            "series": [
                {"label": "cost", "values": clean(hourly["cost"]), "style": "bars",
                 "color": PALETTE[2], "fmt": "usd"},
            ],
            "axes": {"y": "USD"},
            "bands": fleet_bands,
        },
        "Known cost of the runs started in the hour (priced LLM calls).",
    )  # fmt: skip
    return body + "</div>"


def alerts_section(firing: Firing, colors: dict[str, str]) -> str:
    body = ""
    for problem in firing.problems:
        body += note(f"signal problem: {problem}", "warn")
    if not firing.signals:
        return body + note(
            "No signal was evaluated: none found in the configured signal_dirs "
            "(or the window holds no 5-minute step)."
        )
    intro = (
        f"{len(firing.signals)} signals replayed at {firing.steps} five-minute steps "
        f"({', '.join(firing.signals)})."
    )
    body += f"<p>{esc(intro)}</p>"
    if not firing.episodes:
        return body + note("No alert fired in this window.")
    rows = []
    for e in firing.episodes:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(e["labels"].items()))
        end = "still firing" if e["open"] else when(e["end"])
        value = "" if e["max_value"] is None else f"{e['max_value']:.3g}"
        rows.append(
            [
                swatch(colors[e["signal"]], e["signal"]),
                esc(e["severity"]),
                esc(labels),
                esc(when(e["start"])),
                esc(end),
                esc(value),
                esc(e["summary"]),
            ]
        )
    headers = ["signal", "severity", "labels", "firing from", "until", "max value", "summary"]
    return body + table(headers, rows, numeric=[5], raw=True)


def agents_section(
    page: Page, windows: AgentWindows, firing: Firing, colors: dict[str, str]
) -> str:
    if not windows.agents:
        return note("No agent has a rolling window in this report window.")
    body = (
        "<p>Rolling 60-minute windows every 5 minutes (fct_windows_60m): the P95 of run "
        "cost and the P99 of run depth (LLM + tool calls) over the runs that ended in the "
        "hour before each point. Shaded: an alert naming the agent was firing.</p>"
    )
    shown = windows.agents[:MAX_AGENTS]
    if len(windows.agents) > len(shown):
        body += note(f"Showing the {len(shown)} busiest of {len(windows.agents)} agents.")
    body += '<div class="grid2">'
    for number, agent in enumerate(shown):
        mine = [e for e in firing.episodes if e["labels"].get("agent_name") == agent.name]
        legend = "".join(_legend_line(signal, found, colors) for signal, found in _by_signal(mine))
        caption = f"{len(mine)} alert episode(s)" if mine else "no alert fired for this agent"
        body += '<div class="agent">'
        body += page.chart(
            f"agent-{number}",
            {
                "kind": "time",
                "title": agent.name,
                "x": windows.t,
                "series": [
                    {"label": "P95 run cost", "values": clean(agent.cost_p95),
                     "color": PALETTE[0], "fmt": "usd"},
                    {"label": "P99 depth (steps)", "values": clean(agent.steps_p99),
                     "color": PALETTE[1], "fmt": "num", "axis": "y2"},
                ],
                "axes": {"y": "P95 cost", "y2": "P99 steps"},
                "bands": bands(mine, colors),
            },
            caption,
        )  # fmt: skip
        if legend:
            body += f'<ul class="legend">{legend}</ul>'
        body += "</div>"
    return body + "</div>"


def _by_signal(found: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for e in found:
        grouped.setdefault(e["signal"], []).append(e)
    return sorted(grouped.items())


def _legend_line(signal: str, found: list[dict[str, Any]], colors: dict[str, str]) -> str:
    """One line per signal: a stuck-run alert per run would otherwise list dozens."""
    first = min(e["start"] for e in found)
    last = "still firing" if any(e["open"] for e in found) else when(max(e["end"] for e in found))
    times = f"{len(found)} episodes, " if len(found) > 1 else ""
    return (
        f"<li>{swatch(colors[signal], signal)} {esc(times)}{esc(when(first))} .. {esc(last)}</li>"
    )
