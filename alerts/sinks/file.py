"""``file``: notifications appended as JSON lines to ``path``.

Each line: notification (firing|repeat|resolved), signal, severity, state,
eval_at, labels, value, summary, starts_at, ends_at, fingerprint.
A relative path is taken from the working directory. Delivery is at least
once: after a kill between writing and recording, a line may repeat.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleetsignals.alerts.sinks.base import Batch, DeliveryError, Sink, notice_record
from fleetsignals.files import append_durably


class FileSink(Sink):
    kind = "file"
    allowed = frozenset({"path"})

    def __init__(self, name: str, options: dict[str, Any], timeout: float) -> None:
        super().__init__(name, options, timeout)
        if not options.get("path"):
            raise ValueError("needs path: the JSON-lines file to append to")
        self.path = Path(options["path"])

    def render(self, batch: Batch) -> list[Any]:
        records = [notice_record(batch, n) for n in batch.notices]
        return [records] if records else []

    def address(self) -> str:
        return f"file {self.path}"

    def send(self, payload: Any) -> None:
        text = "".join(json.dumps(record) + "\n" for record in payload)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            append_durably(self.path, text.encode("utf-8"))
        except OSError as exc:
            raise DeliveryError(f"cannot append to {self.path}: {exc.strerror}") from None
