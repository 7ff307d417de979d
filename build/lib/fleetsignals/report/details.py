"""Attribution, run, fingerprint and retention sections: their HTML and charts."""

from __future__ import annotations

from typing import Any

from fleetsignals.report.markup import (
    PALETTE,
    count,
    duration,
    esc,
    kpis,
    note,
    pct,
    size,
    table,
    usd,
    when,
)
from fleetsignals.report.page import Page
from fleetsignals.report.sections import clean

TITLES = {
    "tenant_id": "tenant",
    "prompt_variant": "prompt variant",
    "workflow": "workflow",
    "tool_name": "tool (run cost split over its tool calls)",
}


def attribution_section(page: Page, attribution: dict[str, Any]) -> str:
    if not attribution["runs"]:
        return note("No runs started in this window: nothing to attribute.")
    total = attribution["total"]
    body = (
        f"<p>Known cost {esc(usd(total))} of {esc(count(attribution['runs']))} runs. A run's "
        "cost is split over the tools it called in proportion to the calls, so every "
        "breakdown adds up to the same total.</p>"
    )
    body += '<div class="grid2">'
    for i, (dimension, rows) in enumerate(attribution["by"].items()):
        body += page.chart(
            f"cost-{dimension}",
            {
                "kind": "bars",
                "title": f"Cost by {TITLES[dimension]}",
                "labels": [r["value"] for r in rows],
                "series": [
                    {"label": "cost", "values": clean([r["cost_usd"] for r in rows]),
                     "color": PALETTE[i % len(PALETTE)], "fmt": "usd"},
                ],
            },
        )  # fmt: skip
    body += "</div><h3>Top combinations</h3>"
    rows = [
        [
            r["tenant_id"],
            r["prompt_variant"],
            r["workflow"],
            r["tool_name"],
            count(r["runs"]),
            count(r["tool_calls"]),
            usd(r["cost_usd"]),
            pct(r["cost_usd"] / total) if total else "",
        ]
        for r in attribution["combinations"]
    ]
    headers = [
        "tenant",
        "prompt variant",
        "workflow",
        "tool",
        "runs",
        "tool calls",
        "cost",
        "share",
    ]
    return body + table(headers, rows, numeric=[4, 5, 6, 7])


def runs_section(costliest: list[dict[str, Any]], stuck: list[dict[str, Any]]) -> str:
    if not costliest:
        return note("No runs started in this window.")
    body = "<h3>Costliest runs</h3>" + _runs_table(costliest, why=False)
    body += "<h3>Stuck runs</h3><p>Runs a signal flagged by run id (stuck_agent), then runs "
    body += "that timed out, then the longest streaks of one tool.</p>"
    return body + _runs_table(stuck, why=True)


def _runs_table(runs: list[dict[str, Any]], why: bool) -> str:
    headers = ["run", "agent / variant", "status", "started", "duration", "steps", "cost"]
    headers += ["why"] if why else []
    rows = []
    for r in runs:
        cost = usd(r["cost_usd"]) + (" (partly unpriced)" if r["is_partly_unpriced"] else "")
        cells = [
            f'<code title="{esc(r["run_id"])}">{esc(r["run_id"][:12])}</code>',
            esc(f"{r['agent_name']} / {r['prompt_variant']}"),
            esc(r["status"]),
            esc(when(r["started_at"])),
            esc(duration(r["duration_ms"])),
            esc(count(r["step_count"])),
            esc(cost),
        ]
        cells += [esc(r["why"])] if why else []
        rows.append(cells)
        rows.append([_sequence(r)])
    return _table_with_sequences(headers, rows)


def _sequence(run: dict[str, Any]) -> str:
    if not run["sequence"]:
        return '<div class="sequence"><span class="muted">no tool calls</span></div>'
    items = []
    for item in run["sequence"]:
        times = f" ×{item['count']}" if item["count"] > 1 else ""
        errors = f" ({item['errors']} failed)" if item["errors"] else ""
        kind = "step error" if item["errors"] else "step"
        items.append(f'<span class="{kind}">{esc(item["tool"])}{esc(times)}{esc(errors)}</span>')
    return '<div class="sequence">' + "→".join(items) + "</div>"


def _table_with_sequences(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for cells in rows:
        if len(cells) == 1:
            body.append(f'<tr class="seq"><td colspan="{len(headers)}">{cells[0]}</td></tr>')
        else:
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        f'<table class="runs"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def fingerprints_section(page: Page, data: dict[str, Any] | None) -> str:
    if data is None:
        return note("The fingerprint mart (fct_fingerprint_windows) is not in this snapshot.")
    if not data["pairs"]:
        return note(
            "No fingerprint distance in this window: each agent x prompt variant needs "
            "enough runs in its current window and its 24-hour baseline."
        )
    threshold = data["threshold"]
    series = [
        {"label": pair["name"], "values": clean(pair["distance"]),
         "color": PALETTE[i % len(PALETTE)], "fmt": "num"}
        for i, pair in enumerate(data["pairs"])
    ]  # fmt: skip
    if threshold is not None:
        series.append(
            {"label": "alert threshold", "values": [threshold] * len(data["t"]),
             "color": "#444444", "fmt": "num"}
        )  # fmt: skip
    body = (
        "<p>Distance of each agent x prompt variant's recent runs from its 24-hour "
        "baseline, in per-run standard deviations (about 0 when behaviour is unchanged). "
        "fingerprint_drift fires when the distance is at least the threshold and the "
        "shift is statistically significant.</p>"
    )
    if data["pair_count"] > len(data["pairs"]):
        body += note(
            f"Showing {len(data['pairs'])} of {data['pair_count']} pairs: those that alerted "
            "most, then the largest distances."
        )
    return body + page.chart(
        "fingerprint-distance",
        {"kind": "time", "title": "Fingerprint distance", "x": data["t"], "series": series,
         "axes": {"y": "distance (sd)"}, "height": 280},
    )  # fmt: skip


def retention_section(page: Page, savings: dict[str, Any]) -> str:
    body = kpis(
        [
            ("runs decided", count(savings["decided_runs"])),
            ("spans pruned", count(savings["pruned_spans"])),
            ("lake now", size(savings["lake_bytes"])),
            ("saved (estimate)", size(savings["saved_bytes_estimate"])),
        ]
    )
    if not savings["decided_runs"]:
        return body + note(
            "Retention has not decided any run yet: `fleetsignals retain` (or the hourly "
            "job of `fleetsignals run`) decides runs that ended more than its grace ago."
        )
    total_spans = sum(r["spans"] for r in savings["reasons"]) or 1
    rows = [
        [r["reason"], count(r["runs"]), count(r["spans"]), pct(r["spans"] / total_spans)]
        for r in savings["reasons"]
    ]
    body += "<p>Whole warehouse. Bytes saved are estimated as pruned spans x the bytes per "
    body += "span of the lake now (retain does not record them).</p>"
    body += '<div class="grid2"><div>'
    body += table(["reason", "runs", "spans", "share of spans"], rows, numeric=[1, 2, 3])
    body += "</div>"
    body += page.chart(
        "retention-reasons",
        {
            "kind": "bars",
            "title": "Runs per retention reason",
            "labels": [r["reason"] for r in savings["reasons"]],
            "series": [{"label": "runs", "values": [r["runs"] for r in savings["reasons"]],
                        "color": PALETTE[2], "fmt": "int"}],
        },
    )  # fmt: skip
    return body + "</div>"
