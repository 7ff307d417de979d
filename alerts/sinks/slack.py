"""``slack``: a Slack incoming-webhook message ({text, blocks}) per signal notification.

Options: ``url`` (the incoming webhook URL; keep it in ``${SLACK_WEBHOOK_URL}``), and the
HTTP options of ``alerts.sinks.http``.

Labels, values and summaries come from trace data, so every text is escaped as Slack
documents for mrkdwn (``&``, ``<``, ``>`` as HTML entities): ``<!channel>``, ``<@U123>``
or ``<https://x|text>`` arriving in data shows as literal text, never as a mention or a
disguised link. The only link is the signal's ``runbook`` when it is a plain http(s) URL.
"""

from __future__ import annotations

import re
from typing import Any

from fleetsignals.alerts.lifecycle import annotations
from fleetsignals.alerts.sinks.base import Batch
from fleetsignals.alerts.sinks.http import HttpSink
from fleetsignals.timeutil import format_time

# Characters that would end or split a Slack link (<url|text>), or any whitespace.
_NOT_IN_LINK = re.compile(r"[<>|\s]")

_ICON = {
    "firing": ":rotating_light:",
    "repeat": ":rotating_light:",
    "resolved": ":white_check_mark:",
}


def mrkdwn(text: str) -> str:
    """Text shown literally in Slack mrkdwn: no mention, link or channel ping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def runbook_link(runbook: str) -> str:
    """The runbook as a link when it is a plain http(s) URL, else as text."""
    url = runbook.strip()[:500]
    if url.startswith(("http://", "https://")) and not _NOT_IN_LINK.search(url):
        return f"<{mrkdwn(url)}|runbook>"
    return f"runbook: {mrkdwn(url)}"


class SlackSink(HttpSink):
    kind = "slack"
    url_help = "the Slack incoming webhook URL"

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
        text = mrkdwn(f"[{signal.severity.upper()}] {signal.name}: {counts}")
        lines = []
        for notice in batch.notices[:20]:
            notes = annotations(signal, notice.instance)
            labels = ", ".join(f"{k}={v}" for k, v in sorted(notice.instance.labels.items()))
            detail = notes.get("summary") or labels or signal.name
            lines.append(f"{_ICON[notice.kind]} *{notice.kind}* {mrkdwn(detail)}")
        if len(batch.notices) > 20:
            lines.append(f"... and {len(batch.notices) - 20} more")
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        ]
        context = [f"at {format_time(batch.eval_at)}"]
        if signal.runbook:
            context.append(runbook_link(signal.runbook))
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " | ".join(context)}]}
        )
        return [{"text": text, "blocks": blocks}]
