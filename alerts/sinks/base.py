"""What every sink shares: the batch it renders and delivery errors (HTTP POST: ``http.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleetsignals.alerts.definitions import Signal
from fleetsignals.alerts.lifecycle import (
    FIRING,
    RESOLVED,
    Instance,
    Notice,
    alert_labels,
    annotations,
    fingerprint,
    record_labels,
)
from fleetsignals.timeutil import format_time

# Alertmanager's encoding of "no end time" (Go's zero time).
ZERO_TIME = "0001-01-01T00:00:00Z"


class DeliveryError(Exception):
    """A temporary failure: the outbox retries with backoff."""


class PermanentDeliveryError(DeliveryError):
    """The receiver rejected the payload itself (HTTP 4xx): retrying cannot help."""


@dataclass(frozen=True)
class Batch:
    """One signal's evaluation, as sinks see it."""

    signal: Signal
    eval_at: datetime
    # Notifications for people: new firing, repeat, resolved.
    notices: list[Notice]
    # Every instance the signal now has (pending, firing, resolved still retained).
    instances: list[Instance] = field(default_factory=list)
    # How long Alertmanager may consider a firing alert valid without hearing again.
    valid_for: timedelta = timedelta(minutes=20)


def alert_object(batch: Batch, instance: Instance, external_url: str = "") -> dict[str, Any]:
    """One alert in Alertmanager's shape (shared by the webhook and alertmanager sinks)."""
    labels = alert_labels(batch.signal, instance)
    resolved = instance.state == RESOLVED
    return {
        "status": "resolved" if resolved else "firing",
        "labels": labels,
        "annotations": annotations(batch.signal, instance),
        "startsAt": format_time(instance.fired_at or instance.active_at),
        "endsAt": format_time(instance.resolved_at) if resolved else ZERO_TIME,
        "generatorURL": external_url,
        "fingerprint": fingerprint(labels),
    }


def notice_record(batch: Batch, notice: Notice) -> dict[str, Any]:
    """A notification as one JSON object (file and stdout sinks)."""
    instance = notice.instance
    return {
        "notification": notice.kind,
        "signal": batch.signal.name,
        "severity": batch.signal.severity,
        "state": instance.state,
        "eval_at": format_time(batch.eval_at),
        "labels": record_labels(instance),
        "value": instance.value,
        "summary": annotations(batch.signal, instance).get("summary", ""),
        "starts_at": format_time(instance.fired_at or instance.active_at),
        "ends_at": format_time(instance.resolved_at) if instance.resolved_at else None,
        # The same fingerprint the webhook and Alertmanager show for this alert.
        "fingerprint": instance.key,
    }


def firing_or_resolved(instances: list[Instance]) -> list[Instance]:
    return [i for i in instances if i.state in (FIRING, RESOLVED)]


class Sink:
    """A configured destination. ``render`` runs when notifications are enqueued (inside the
    state transaction), ``send`` when the outbox delivers; payloads are JSON values."""

    kind = ""
    allowed: frozenset[str] = frozenset()

    def __init__(self, name: str, options: dict[str, Any], timeout: float) -> None:
        self.name = name
        self.options = options
        self.timeout = timeout

    def render(self, batch: Batch) -> list[Any]:
        raise NotImplementedError

    def send(self, payload: Any) -> None:
        raise NotImplementedError

    def secrets(self) -> list[str]:
        """Texts of this sink's config that no error, log or state may contain."""
        return []

    def address(self) -> str:
        """Where it delivers, as shown to people: never a secret (see ``redact.address``)."""
        return self.kind
