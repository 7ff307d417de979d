"""``slack``: a Slack incoming-webhook message ({text, blocks}) per signal notification.

Options: ``url`` (the incoming webhook URL; keep it in ``${SLACK_WEBHOOK_URL}``).
"""

from __future__ import annotations

from typing import Any

from alerts.lifecycle import annotations
from alerts.sinks.base import Batch, Sink, post_json
from fleetsignals.timeutil import format_time

_ICON = {
    "firing": ":rotating_light:",
    "repeat": ":rotating_light:",
    "resolved": ":white_check_mark:",
}


class SlackSink(Sink):
    kind = "slack"
    allowed = frozenset({"url"})

    def __init__(self, name: str, options: dict[str, Any], timeout: float) -> None:
        super().__init__(name, options, timeout)
        if not options.get("url"):
            raise ValueError("needs url: the Slack incoming webhook URL")
        self.url = str(options["url"])

    def render(self, batch: Batch) -> list[Any]:
        if not batch.notices:
            return []
        signal = batch.signal
        firing = sum(1 for n in batch.notices if n.kind != "resolved")
        resolved = len(batch.notices) - firing
        counts = ", ".join(
            part
            for part in (
                f"{firing} firing" if firing else "",
                f"{resolved} resolved" if resolved else "",
            )
            if part
        )
        text = f"[{signal.severity.upper()}] {signal.name}: {counts}"
        lines = []
        for notice in batch.notices[:20]:
            notes = annotations(signal, notice.instance)
            labels = ", ".join(f"{k}={v}" for k, v in sorted(notice.instance.labels.items()))
            detail = notes.get("summary") or labels or signal.name
            lines.append(f"{_ICON[notice.kind]} *{notice.kind}* {detail}")
        if len(batch.notices) > 20:
            lines.append(f"... and {len(batch.notices) - 20} more")
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        ]
        context = [f"at {format_time(batch.eval_at)}"]
        if signal.runbook:
            context.append(f"runbook: {signal.runbook.strip()[:500]}")
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " | ".join(context)}]}
        )
        return [{"text": text, "blocks": blocks}]

    def send(self, payload: Any) -> None:
        post_json(self.url, payload, {}, self.timeout)
