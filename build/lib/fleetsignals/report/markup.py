"""HTML building blocks: escaped text, tables, notes, value formats, colours."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

# Okabe-Ito and Tableau hues: distinguishable in colour-blind vision and in print.
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#d55e00",
    "#cc79a7",
    "#56b4e9",
    "#8c564b",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def usd(value: float | None) -> str:
    if value is None:
        return ""
    if value == 0:
        return "$0"
    size = abs(value)
    if size >= 100:
        return f"${value:,.0f}"
    return f"${value:,.2f}" if size >= 1 else f"${value:.4f}"


def count(value: int | float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def duration(ms: float | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def size(n: int | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def note(text: str, kind: str = "empty") -> str:
    """A visible remark: ``empty`` for "no data" notes, ``warn`` for problems."""
    return f'<p class="note {kind}">{esc(text)}</p>'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Iterable[int] = (),
    raw: bool = False,
) -> str:
    """Cells are escaped unless ``raw`` (then the caller escaped them)."""
    right = set(numeric)
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in right else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"num" if i in right else ""}">{c if raw else esc(c)}</td>'
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def kpis(items: Sequence[tuple[str, str]]) -> str:
    cards = "".join(
        f'<div class="kpi"><div class="kpi-value">{esc(v)}</div><div class="kpi-label">{esc(k)}</div></div>'
        for k, v in items
    )
    return f'<div class="kpis">{cards}</div>'


def swatch(color: str, text: str) -> str:
    return f'<span class="swatch" style="background:{esc(color)}"></span>{esc(text)}'
