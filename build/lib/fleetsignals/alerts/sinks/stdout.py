"""``stdout``: one human-readable line per notification on standard output.

``<eval_at> FIRING [severity] signal{labels} fingerprint=<Alertmanager's> value=... summary``

Label values are quoted as Prometheus prints them (``name="value"``, with quotes, backslashes
and control characters escaped) and the summary's control characters escaped, so a
value from trace data cannot forge a second line or a label.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from fleetsignals.alerts.sinks.base import Batch, Sink, notice_record


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class StdoutSink(Sink):
    kind = "stdout"

    def render(self, batch: Batch) -> list[Any]:
        lines = []
        for notice in batch.notices:
            record = notice_record(batch, notice)
            labels = ", ".join(f"{k}={_quoted(v)}" for k, v in sorted(record["labels"].items()))
            value = "" if record["value"] is None else f" value={record['value']:g}"
            summary = f" {_quoted(record['summary'])[1:-1]}" if record["summary"] else ""
            lines.append(
                f"{record['eval_at']} {notice.kind.upper()} [{record['severity']}] "
                f"{record['signal']}{{{labels}}} fingerprint={record['fingerprint']}"
                f"{value}{summary}"
            )
        return [lines] if lines else []

    def send(self, payload: Any) -> None:
        sys.stdout.write("".join(f"{line}\n" for line in payload))
        sys.stdout.flush()
