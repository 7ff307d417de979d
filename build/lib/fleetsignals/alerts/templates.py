"""Summary and description templates: Python format strings restricted to plain names.

``"{agent_name}: P95 cost {value:.2f}x baseline"`` reads a label, the value and
any other numeric column of the signal's row. Only bare names are allowed
(no ``{x.attr}`` or ``{x[0]}``), so a template cannot reach into Python
objects, and widths and precisions are bounded (``{value:>1000000000000000}``
would ask for petabytes), both checked when the signal loads. A name without a
value (an absent label, a NULL column) renders empty whatever its format spec.
Anything else that goes wrong while rendering raises ``TemplateError``, which
the caller turns into a fallback text: one bad template never stops an alert.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"\d+")
_FORMATTER = string.Formatter()
# Largest width or precision a format spec may ask for: a summary is one line of text.
MAX_FORMAT_NUMBER = 200


class TemplateError(Exception):
    """A template failed for one row; the message names the Python error."""


def template_fields(template: str) -> list[str]:
    """Names a template refers to; raises ValueError if it is malformed or not a plain name."""
    names = []
    for _literal, field, spec, conversion in _FORMATTER.parse(template):
        if field is None:
            continue
        if not _NAME.fullmatch(field):
            raise ValueError(
                f"template field {{{field}}} is not a plain name "
                "(use {label}, {value} or {value:.2f}; write {{ and }} for literal braces)"
            )
        if conversion not in (None, "s", "r"):
            raise ValueError(f"template field {{{field}!{conversion}}}: unknown conversion")
        if spec and "{" in spec:
            raise ValueError(f"template field {{{field}:{spec}}}: nested fields are not allowed")
        # Any digit run: a width, a precision, or a digit used as the fill character.
        if any(len(n) > 3 or int(n) > MAX_FORMAT_NUMBER for n in _NUMBER.findall(spec or "")):
            raise ValueError(
                f"template field {{{field}:{spec}}}: width and precision may be at most "
                f"{MAX_FORMAT_NUMBER}"
            )
        names.append(field)
    return names


class _Absent:
    """A name with no value: renders empty under any format spec."""

    def __format__(self, spec: str) -> str:
        return ""

    def __str__(self) -> str:
        return ""

    __repr__ = __str__


_ABSENT = _Absent()


class _Values(dict):
    """Missing names render as empty text, like an absent Prometheus label."""

    def __missing__(self, key: str) -> _Absent:
        return _ABSENT

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        return _ABSENT if value is None else value


def render(template: str | None, values: Mapping[str, Any]) -> str:
    """Render a template over labels and values; raises TemplateError on any failure."""
    if not template:
        return ""
    try:
        template_fields(template)
        return _FORMATTER.vformat(template, (), _Values(values))
    except Exception as exc:  # MemoryError, OverflowError ... too: every failure is isolated
        reason = " ".join(str(exc).split())[:200]
        name = type(exc).__name__
        raise TemplateError(f"{name}: {reason}" if reason else name) from None
