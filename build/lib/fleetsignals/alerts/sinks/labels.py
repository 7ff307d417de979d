"""Label sets as Alertmanager accepts them: names match ``[a-zA-Z_][a-zA-Z0-9_]*``, values
are UTF-8.

Label names come from a signal's text columns, which an analyst names (``select x as
"agent name"``). Alertmanager rejects a whole POST that holds one bad name, so instead of
losing the batch a bad name is renamed the way Prometheus' OpenTelemetry translation
does: every character outside ``[a-zA-Z0-9_]`` becomes ``_``, and a leading digit gets a
``_`` in front. If the new name is already taken, ``_`` is appended until it is not (a
valid name is never renamed). Values keep their text; a character that cannot be
encoded as UTF-8 (a lone surrogate) becomes ``?``.
"""

from __future__ import annotations

import re

_VALID = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_INVALID_CHAR = re.compile(r"[^a-zA-Z0-9_]")


def label_name(name: str) -> str:
    """``name`` made a valid Prometheus label name (unchanged when it already is one)."""
    if _VALID.fullmatch(name):
        return name
    cleaned = _INVALID_CHAR.sub("_", name)
    return f"_{cleaned}" if not cleaned or cleaned[0].isdigit() else cleaned


def prometheus_labels(labels: dict[str, str]) -> dict[str, str]:
    """The label set with every name valid and every value UTF-8."""
    result = {k: _utf8(v) for k, v in labels.items() if _VALID.fullmatch(k)}
    for name in sorted(k for k in labels if not _VALID.fullmatch(k)):
        new = label_name(name)
        while new in result:
            new += "_"
        result[new] = _utf8(labels[name])
    return result


def _utf8(value: str) -> str:
    return value.encode("utf-8", "replace").decode("utf-8")
