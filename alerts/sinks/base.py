"""What every sink shares: the batch it renders, delivery errors, and an HTTP POST."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.definitions import Signal
from alerts.lifecycle import (
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


# 408 and 429 mean "later". 401, 403 and 404 mean the receiver's address or credentials
# are wrong (a rotated token, a moved webhook): its operator fixes that, and then the
# queued notifications go out, so a misconfigured sink delays alerts, never loses them.
# Any other 4xx means the payload itself is wrong: retrying cannot help.
RETRIED_4XX = frozenset({401, 403, 404, 408, 429})


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


def post_json(url: str, body: Any, headers: dict[str, str], timeout: float) -> None:
    """POST JSON; raises DeliveryError (retry) or PermanentDeliveryError (4xx)."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "fleetsignals", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode(errors="replace").strip()
        message = f"HTTP {exc.code} from {url}: {detail}"
        if 400 <= exc.code < 500 and exc.code not in RETRIED_4XX:
            raise PermanentDeliveryError(message) from None
        raise DeliveryError(message) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"cannot reach {url}: {reason}") from None


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
