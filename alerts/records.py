"""Instance records, the shape every output uses, and their table / JSON-lines rendering.

A record is ``{"signal", "severity", "state", "eval_at", "labels", "value", "summary"}``;
in Python ``eval_at`` is a naive UTC datetime, in JSON ISO-8601 UTC with Z.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fleetsignals.alerts.definitions import Signal
from fleetsignals.alerts.lifecycle import FIRING, PENDING, Instance, annotations, record_labels
from fleetsignals.cells import NULL, escape_controls, shorten
from fleetsignals.timeutil import format_time

Record = dict[str, Any]


def to_record(signal: Signal, instance: Instance, eval_at: datetime) -> Record:
    return {
        "signal": signal.name,
        "severity": signal.severity,
        "state": instance.state,
        "eval_at": eval_at,
        "labels": record_labels(instance),
        "value": instance.value,
        "summary": annotations(signal, instance).get("summary", ""),
    }


def active_records(
    signal: Signal, instances: dict[str, Instance], eval_at: datetime
) -> list[Record]:
    """Records of the pending and firing instances, in a stable order."""
    chosen = [i for i in instances.values() if i.state in (PENDING, FIRING)]
    chosen.sort(key=lambda i: (i.state != FIRING, sorted(i.labels.items())))
    return [to_record(signal, i, eval_at) for i in chosen]


def json_line(record: Record) -> str:
    return json.dumps({**record, "eval_at": format_time(record["eval_at"])})


def labels_text(labels: dict[str, str]) -> str:
    """``k=v, ...`` on one line: control characters in names or values become escapes."""
    return ", ".join(
        f"{escape_controls(k)}={escape_controls(v)}" for k, v in sorted(labels.items())
    )


def value_text(value: float | None) -> str:
    """A value cell: ``NULL`` when the instance has no value (NULL or NaN in the query)."""
    return NULL if value is None or value != value else f"{value:.4g}"


def table(headers: list[str], rows: list[list[str]], cut: str = "SUMMARY", limit: int = 80) -> str:
    """A plain fixed-width table; the ``cut`` column is shortened with an ellipsis (labels
    never are: they name what to look at)."""
    index = headers.index(cut) if cut in headers else -1
    # Every cell on one line, whatever the data holds (a summary renders labels).
    cells = [[escape_controls(c) for c in row] for row in rows]
    cells = [[shorten(c, limit) if i == index else c for i, c in enumerate(row)] for row in cells]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def instances_table(records: list[Record]) -> str:
    rows = [
        [
            r["signal"],
            r["severity"],
            r["state"],
            labels_text(r["labels"]),
            value_text(r["value"]),
            r["summary"],
        ]
        for r in records
    ]
    return table(["SIGNAL", "SEVERITY", "STATE", "LABELS", "VALUE", "SUMMARY"], rows)


def episodes(records: list[Record], steps: list[datetime]) -> list[dict[str, Any]]:
    """Firing episodes per instance: runs of consecutive ``steps`` where it was firing.

    ``end`` of an episode is the first step it was no longer firing, or None
    when it was still firing at the last step.
    """
    firing: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        if r["state"] == FIRING:
            key = (r["signal"], json.dumps(r["labels"], sort_keys=True))
            firing.setdefault(key, []).append(r)
    index = {t: i for i, t in enumerate(steps)}
    result = []
    for (signal, _), rows in sorted(firing.items()):
        rows.sort(key=lambda r: r["eval_at"])
        current: list[Record] = []
        for r in rows:
            if current and index[r["eval_at"]] != index[current[-1]["eval_at"]] + 1:
                result.append(_episode(signal, current, steps, index))
                current = []
            current.append(r)
        if current:
            result.append(_episode(signal, current, steps, index))
    return result


def _episode(signal: str, rows: list[Record], steps: list[datetime], index: dict) -> dict[str, Any]:
    after = index[rows[-1]["eval_at"]] + 1
    valued = [r for r in rows if r["value"] is not None and r["value"] == r["value"]]
    # The summary is the one of the step that reached the max value (the first such step),
    # so the table's MAX and SUMMARY describe the same moment.
    peak = max(valued, key=lambda r: r["value"]) if valued else rows[-1]
    return {
        "signal": signal,
        "severity": rows[0]["severity"],
        "labels": rows[0]["labels"],
        "start": rows[0]["eval_at"],
        "end": steps[after] if after < len(steps) else None,
        "steps": len(rows),
        "max_value": peak["value"] if valued else None,
        "max_at": peak["eval_at"],
        "summary": peak["summary"],
    }
