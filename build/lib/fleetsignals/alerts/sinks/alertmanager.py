"""``alertmanager``: pushes alerts to an Alertmanager's ``/api/v2/alerts`` as Prometheus does.

Every evaluation re-sends each firing instance. Prometheus sets a firing alert's
``endsAt`` to its send time + 4 x max(resend delay, evaluation interval); here the
send time is when the outbox delivers it, and the evaluation time when that is later:
``endsAt`` = max(eval time, send time) + 4 x max(signal's ``every``,
``scheduler.build_every``, 1m). So Alertmanager keeps the alert active while we keep
evaluating and lets it expire if fleetsignals stops, and it never receives a firing
alert that has already expired: neither after ``evaluate --at`` a past time nor after a
delivery delayed by an Alertmanager that was down. A resolved instance is sent with
``endsAt`` = the time it resolved, and re-sent while it is retained (15 minutes).
Alertmanager then does the routing, grouping, silencing, inhibition and repeat intervals.
Label names are made valid for it (``alerts.sinks.labels``).
Options: ``url`` (base URL, e.g. http://alertmanager:9093), ``external_url`` (the
generatorURL given for each alert), and the HTTP options of ``alerts.sinks.http``
(``headers``, ``basic_auth``, ``authorization``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from fleetsignals.alerts.lifecycle import RESOLVED
from fleetsignals.alerts.sinks.base import Batch, alert_object, firing_or_resolved
from fleetsignals.alerts.sinks.http import HTTP_OPTIONS, HttpSink, post_json
from fleetsignals.alerts.sinks.labels import prometheus_labels
from fleetsignals.timeutil import format_time, parse_time


class AlertmanagerSink(HttpSink):
    kind = "alertmanager"
    allowed = HTTP_OPTIONS | {"external_url"}
    url_help = "the Alertmanager base URL, e.g. http://localhost:9093"

    def __init__(self, name: str, options: dict[str, Any], timeout: float) -> None:
        super().__init__(name, options, timeout)
        base = self.endpoint.url.rstrip("/")
        if not base.endswith("/api/v2/alerts"):
            self.endpoint = replace(self.endpoint, url=f"{base}/api/v2/alerts")
        self.external_url = str(options.get("external_url") or "")

    def render(self, batch: Batch) -> list[Any]:
        alerts = []
        for instance in firing_or_resolved(batch.instances):
            alert = alert_object(batch, instance, self.external_url)
            alert["labels"] = prometheus_labels(alert["labels"])
            # A firing alert's endsAt is set when it is sent (`postable`).
            alert["endsAt"] = (
                format_time(instance.resolved_at) if instance.state == RESOLVED else None
            )
            # The v2 API's postable alert has no status or fingerprint: Alertmanager derives them.
            del alert["status"], alert["fingerprint"]
            if not alert["generatorURL"]:
                del alert["generatorURL"]
            alerts.append(alert)
        if not alerts:
            return []
        valid_for = batch.valid_for.total_seconds()
        return [{"eval_at": format_time(batch.eval_at), "valid_for": valid_for, "alerts": alerts}]

    def send(self, payload: Any) -> None:
        post_json(self.endpoint, postable(payload, parse_time("now")), self.timeout)


def postable(payload: Any, now: datetime) -> list[dict[str, Any]]:
    """The alerts to POST at ``now``: firing ones valid until max(eval time, now) + valid_for."""
    if isinstance(payload, list):
        return payload  # queued by an older version, with endsAt already set
    eval_at = parse_time(payload["eval_at"])
    until = format_time(max(eval_at, now) + timedelta(seconds=payload["valid_for"]))
    return [{**alert, "endsAt": alert["endsAt"] or until} for alert in payload["alerts"]]
