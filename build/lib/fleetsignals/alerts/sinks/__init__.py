"""Notification sinks, one module each; ``build_sinks`` makes them from the ``notify:`` config.

Config: a list of ``{type: stdout|file|webhook|alertmanager|slack, name?: ..., ...options}``.
``name`` (default: the type, then type-2, type-3 ... for repeats) names the sink's
queue in the outbox; keep it stable so queued notifications find their sink.
Errors name the entry's key (``notify[2].type``, counted from 0), never its value: a
value may be a secret that ``${ENV}`` put there.
"""

from __future__ import annotations

from typing import Any

from fleetsignals.alerts.sinks.alertmanager import AlertmanagerSink
from fleetsignals.alerts.sinks.base import Batch, DeliveryError, PermanentDeliveryError, Sink
from fleetsignals.alerts.sinks.file import FileSink
from fleetsignals.alerts.sinks.slack import SlackSink
from fleetsignals.alerts.sinks.stdout import StdoutSink
from fleetsignals.alerts.sinks.webhook import WebhookSink
from fleetsignals.errors import FleetsignalsError

KINDS: dict[str, type[Sink]] = {
    sink.kind: sink for sink in (StdoutSink, FileSink, WebhookSink, AlertmanagerSink, SlackSink)
}

__all__ = ["Batch", "DeliveryError", "PermanentDeliveryError", "Sink", "build_sinks"]


def build_sinks(entries: Any, timeout: float = 10.0) -> list[Sink]:
    """Sinks from the ``notify:`` list; a bad entry is a FleetsignalsError naming it."""
    if not isinstance(entries, list):
        raise FleetsignalsError("config notify: must be a list of {type: ..., ...} entries")
    sinks: list[Sink] = []
    names: set[str] = set()
    for position, entry in enumerate(entries):
        where = f"config notify[{position}]"
        if not isinstance(entry, dict):
            raise FleetsignalsError(f"{where}: must be a mapping {{type: ..., ...}}")
        if entry.get("type") not in KINDS:
            raise FleetsignalsError(f"{where}.type: needs type: one of {', '.join(KINDS)}")
        kind = KINDS[entry["type"]]
        options = {k: v for k, v in entry.items() if k not in ("type", "name")}
        unknown = sorted(str(k) for k in set(options) - kind.allowed)
        if unknown:
            allowed = ", ".join(sorted(kind.allowed)) or "none"
            raise FleetsignalsError(
                f"{where} ({kind.kind}): unknown option {', '.join(unknown)} (allowed: {allowed})"
            )
        name = str(entry.get("name") or kind.kind)
        if "name" not in entry:
            suffix = 2
            while name in names:
                name, suffix = f"{kind.kind}-{suffix}", suffix + 1
        if name in names:
            raise FleetsignalsError(f"{where}.name: sink name {name!r} is used twice")
        names.add(name)
        try:
            sinks.append(kind(name, options, timeout))
        except ValueError as exc:
            raise FleetsignalsError(f"{where} ({kind.kind}): {exc}") from None
    return sinks
