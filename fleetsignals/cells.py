"""How one value looks in a fixed-width table (`sql`, `evaluate`, `backtest`, `state`, `outbox`).

A table cell must be honest at a glance: NULL and the empty string look different, and a
value can never break the table's lines. So NULL is ``NULL``, the empty string ``''``, and
control characters (newline, tab, carriage return, escape ...) are written as escapes
(``\\n``, ``\\t``, ``\\x1b``), the way Python's ``repr`` writes them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fleetsignals.timeutil import format_time

NULL = "NULL"
EMPTY = "''"
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """The text with every control character (C0, DEL, C1, line and paragraph separators)
    written as an escape, so it stays on one line of a table or a log."""
    out = []
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def cell_text(value: Any) -> str:
    """One value as a table cell: NULL, '' and control characters made visible."""
    if value is None:
        return NULL
    if isinstance(value, float) and value != value:  # NaN
        return "NaN"
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return EMPTY if text == "" else escape_controls(text)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
