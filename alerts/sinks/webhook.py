"""``webhook``: POSTs exactly the JSON Alertmanager sends its webhook receivers (version 4).

Alerts are grouped per signal (Alertmanager's ``group_by: [alertname]``). A
notification goes out when an instance starts firing or resolves, or when
``alerts.repeat_interval`` has passed; like Alertmanager's, it lists every
firing instance of the group plus those just resolved.
Options: ``url`` (required), ``headers`` (mapping), ``external_url``.
"""

from __future__ import annotations

from typing import Any

from alerts.lifecycle import FIRING
from alerts.sinks.base import Batch, Sink, alert_object, post_json


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    common = dict(maps[0])
    for other in maps[1:]:
        common = {k: v for k, v in common.items() if other.get(k) == v}
    return common


def group_payload(batch: Batch, receiver: str, external_url: str = "") -> dict[str, Any] | None:
    """Alertmanager's webhook body for one signal's group, or None when nothing is due."""
    if not batch.notices:
        return None
    chosen = {i.key: i for i in batch.instances if i.state == FIRING}
    chosen.update({n.instance.key: n.instance for n in batch.notices})
    alerts = [alert_object(batch, i, external_url) for i in chosen.values()]
    alerts.sort(key=lambda a: (a["status"], sorted(a["labels"].items())))
    name = batch.signal.name
    return {
        "version": "4",
        "groupKey": "{}:" + '{alertname="' + name.replace('"', '\\"') + '"}',
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": {"alertname": name},
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "alerts": alerts,
    }


class WebhookSink(Sink):
    kind = "webhook"
    allowed = frozenset({"url", "headers", "external_url"})

    def __init__(self, name: str, options: dict[str, Any], timeout: float) -> None:
        super().__init__(name, options, timeout)
        if not options.get("url"):
            raise ValueError("needs url: where to POST the notifications")
        self.url = str(options["url"])
        self.headers = {str(k): str(v) for k, v in (options.get("headers") or {}).items()}
        self.external_url = str(options.get("external_url") or "")

    def render(self, batch: Batch) -> list[Any]:
        payload = group_payload(batch, self.name, self.external_url)
        return [payload] if payload else []

    def send(self, payload: Any) -> None:
        post_json(self.url, payload, self.headers, self.timeout)
