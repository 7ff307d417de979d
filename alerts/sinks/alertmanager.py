"""``alertmanager``: pushes alerts to an Alertmanager's ``/api/v2/alerts`` as Prometheus does.

Every evaluation re-sends each firing instance with ``endsAt`` = eval time +
4 x max(signal's ``every``, 1m), so Alertmanager keeps it active exactly while
we keep evaluating, and lets it expire if fleetsignals stops. A resolved
instance is sent with ``endsAt`` = the time it resolved, and re-sent while it
is retained (15 minutes). Alertmanager then does the routing, grouping,
silencing, inhibition and repeat intervals. Label names are made valid for it
(``alerts.sinks.labels``).
Options: ``url`` (base URL, e.g. http://alertmanager:9093), ``external_url`` (the
generatorURL given for each alert), and the HTTP options of ``alerts.sinks.http``
(``headers``, ``basic_auth``, ``authorization``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from alerts.lifecycle import RESOLVED
from alerts.sinks.base import Batch, alert_object, firing_or_resolved
from alerts.sinks.http import HTTP_OPTIONS, HttpSink
from alerts.sinks.labels import prometheus_labels
from fleetsignals.timeutil import format_time


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
            if instance.state == RESOLVED:
                alert["endsAt"] = format_time(instance.resolved_at)
            else:
                alert["endsAt"] = format_time(batch.eval_at + batch.valid_for)
            # The v2 API's postable alert has no status or fingerprint: Alertmanager derives them.
            del alert["status"], alert["fingerprint"]
            if not alert["generatorURL"]:
                del alert["generatorURL"]
            alerts.append(alert)
        return [alerts] if alerts else []
