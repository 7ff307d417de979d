"""Summary and description templates: Python format strings restricted to plain names.

``"{agent_name}: P95 cost {value:.2f}x baseline"`` reads a label, the value and
any other numeric column of the signal's row. Only bare names are allowed
(no ``{x.attr}`` or ``{x[0]}``), so a template cannot reach into Python
objects. A template that cannot be rendered for a row (say ``{value:.2f}`` on
a NULL value) falls back to its raw text rather than losing the alert.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FORMATTER = string.Formatter()


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
        names.append(field)
    return names


class _Values(dict):
    """Missing names render as empty text, like an absent Prometheus label."""

    def __missing__(self, key: str) -> str:
        return ""


def render(template: str | None, values: Mapping[str, Any]) -> str:
    """Render a template over labels and values; the raw template if a value does not fit."""
    if not template:
        return ""
    try:
        template_fields(template)
        return _FORMATTER.vformat(template, (), _Values(values))
    except (ValueError, TypeError, KeyError, IndexError):
        return template
