"""``webhook``: POSTs exactly the JSON Alertmanager sends its webhook receivers (version 4).

Alerts are grouped per signal (Alertmanager's ``group_by: [alertname]``). A
notification goes out when an instance starts firing or resolves, or when
``alerts.repeat_interval`` has passed; like Alertmanager's, it lists every
firing instance of the group plus those just resolved. Label names are made valid the
way the alertmanager sink makes them (``alerts.sinks.labels``), so both carry the same
label sets and fingerprints.
Options: ``url`` (required), ``external_url``, and the HTTP options of ``alerts.sinks.http``
(``headers``, ``basic_auth``, ``authorization``).
"""

from __future__ import annotations

import json
from typing import Any

from fleetsignals.alerts.lifecycle import FIRING, fingerprint
from fleetsignals.alerts.sinks.base import Batch, alert_object
from fleetsignals.alerts.sinks.http import HTTP_OPTIONS, HttpSink
from fleetsignals.alerts.sinks.labels import prometheus_labels


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    common = dict(maps[0])
    for other in maps[1:]:
        common = {k: v for k, v in common.items() if other.get(k) == v}
    return common


def _valid(alert: dict[str, Any]) -> dict[str, Any]:
    """Label names as Alertmanager would have them, and the fingerprint of that label set."""
    alert["labels"] = prometheus_labels(alert["labels"])
    alert["fingerprint"] = fingerprint(alert["labels"])
    return alert


def group_payload(batch: Batch, receiver: str, external_url: str = "") -> dict[str, Any] | None:
    """Alertmanager's webhook body for one signal's group, or None when nothing is due."""
    if not batch.notices:
        return None
    chosen = {i.key: i for i in batch.instances if i.state == FIRING}
    chosen.update({n.instance.key: n.instance for n in batch.notices})
    alerts = [_valid(alert_object(batch, i, external_url)) for i in chosen.values()]
    alerts.sort(key=lambda a: (a["status"], sorted(a["labels"].items())))
    name = batch.signal.name
    return {
        "version": "4",
        # Alertmanager's group key: the route's key, then the group labels Go-quoted.
        "groupKey": f"{{}}:{{alertname={json.dumps(name, ensure_ascii=False)}}}",
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": {"alertname": name},
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "alerts": alerts,
    }


class WebhookSink(HttpSink):
    kind = "webhook"
    allowed = HTTP_OPTIONS | {"external_url"}

    def __init__(self, name: str, options: dict[str, Any], timeout: float) -> None:
        super().__init__(name, options, timeout)
        self.external_url = str(options.get("external_url") or "")

    def render(self, batch: Batch) -> list[Any]:
        payload = group_payload(batch, self.name, self.external_url)
        return [payload] if payload else []
