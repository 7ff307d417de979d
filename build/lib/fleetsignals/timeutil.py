"""Parsing of durations ("5m") and times ("2026-11-26T07:00:00Z") given by users."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fleetsignals.errors import FleetsignalsError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float) -> timedelta:
    """Parse a Prometheus-style duration such as ``90s``, ``5m``, ``1h30m``; a number is seconds."""
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    value = str(text).strip()
    if value == "0":
        return timedelta(0)
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise FleetsignalsError(
            f"invalid duration {text!r}: use a number and a unit, e.g. 30s, 5m, 1h, 1h30m"
        )
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def parse_time(text: str | datetime | None) -> datetime:
    """Parse an ISO-8601 time (``Z`` or offset; naive means UTC) or ``now``; returns naive UTC.

    Naive UTC is what the warehouse stores (portable ``timestamp`` columns).
    """
    if text is None or text == "now":
        return datetime.now(UTC).replace(tzinfo=None)
    if isinstance(text, datetime):
        moment = text
    else:
        try:
            moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
        except ValueError:
            raise FleetsignalsError(
                f"invalid time {text!r}: use ISO-8601 such as 2026-11-26T07:00:00Z"
            ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def format_time(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z``, as every JSON output of fleetsignals writes times."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"
