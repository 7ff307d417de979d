"""A one-line progress meter on stderr, for terminals only (pipes and logs stay quiet)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

REFRESH_SECONDS = 0.5


class Progress:
    """Files done of total, spans landed, and their rates; redrawn at most twice a second."""

    def __init__(
        self,
        total_files: int,
        enabled: bool,
        stream: TextIO | None = None,
        stage: str = "ingest",
        unit: str = "spans",
    ):
        self.total = total_files
        self.stage = stage
        self.unit = unit
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.files = 0
        self.span_count = 0
        self.started = time.perf_counter()
        self.drawn = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled and self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def spans(self, count: int) -> None:
        self.span_count += count
        self._draw()

    def file_done(self, spans: int) -> None:
        self.files += 1
        self.span_count += spans
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.drawn < REFRESH_SECONDS:
            return
        self.drawn = now
        elapsed = max(now - self.started, 1e-9)
        self.stream.write(
            f"\r\033[K{self.stage}: {self.files}/{self.total} files, {self.span_count:,} {self.unit}"
            f" ({self.files / elapsed:.1f} files/s, {self.span_count / elapsed:,.0f} {self.unit}/s)"
        )
        self.stream.flush()
