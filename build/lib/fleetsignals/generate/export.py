"""The path from an SDK to the Collector's file exporter.

Each process (resource) runs a BatchSpanProcessor: a span is queued when it ends
and the queue is exported every 5 s (at most 512 spans per request), at a phase
of its own. A few export requests fail and are retried tens of seconds later, so
they land in a later file, behind newer spans. The Collector's batch processor
merges requests from different processes that arrive within 200 ms (in one
file) into one line. The file exporter writes one ExportTraceServiceRequest per
line and the files rotate every minute. The dump is cut at the fleet's end: what
had not arrived by then is not written (runs in flight have no root yet).

The exporter streams: a minute's file is complete once every run that started
before the minute's end has been simulated (a later run cannot end sooner), so
memory holds only the spans still waiting for export.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np

from fleetsignals.generate.shape import FleetShape
from fleetsignals.generate.simulate import SpanRec

NS = 1_000_000_000
MINUTE_NS = 60 * NS
SCHEDULE_DELAY_NS = 5 * NS  # OTEL_BSP_SCHEDULE_DELAY default
MAX_BATCH = 512  # OTEL_BSP_MAX_EXPORT_BATCH_SIZE default
MERGE_NS = 200_000_000  # Collector batch processor timeout
MAX_MERGED = 8  # resources per merged request
MASK = (1 << 64) - 1


def _unit(seed: int, resource: int, index: int, salt: int) -> float:
    """A uniform [0, 1) fixed by its arguments (splitmix64), whatever the drain order."""
    x = (seed * 0x9E3779B97F4A7C15 + resource * 0xBF58476D1CE4E5B9 + index * 0x94D049BB133111EB
         + salt) & MASK  # fmt: skip
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    x ^= x >> 31
    return (x >> 11) / float(1 << 53)


class Exporter:
    """Collects ended spans; hands out each minute's lines once that minute is final."""

    def __init__(self, shape: FleetShape, seed: int, start_ns: int, end_ns: int):
        self.shape = shape
        self.seed = seed
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.phases = np.random.default_rng([seed, 4]).integers(
            0, SCHEDULE_DELAY_NS, size=len(shape.resources)
        )
        self.pending: dict[tuple[int, int], list[SpanRec]] = defaultdict(list)
        self.arrived: dict[int, list[tuple[int, int, list[SpanRec]]]] = defaultdict(list)

    def _flush_at(self, resource: int, index: int) -> int:
        return self.start_ns + int(self.phases[resource]) + index * SCHEDULE_DELAY_NS

    def add(self, spans: list[SpanRec]) -> None:
        for s in spans:
            index = (
                s.end_ns - self.start_ns - int(self.phases[s.resource])
            ) // SCHEDULE_DELAY_NS + 1
            self.pending[(s.resource, index)].append(s)

    def drain(self, watermark: int) -> Iterator[tuple[int, list[dict], list[SpanRec]]]:
        """(minute, lines, spans written) for every minute that ends by the watermark.

        The watermark promises that no span ending before it is still to come.
        """
        ready = [k for k in self.pending if self._flush_at(*k) <= watermark]
        for key in ready:
            resource, index = key
            batch = self.pending.pop(key)
            arrival = self._flush_at(resource, index)
            arrival += int((0.005 + 0.295 * _unit(self.seed, resource, index, 1)) * NS)
            if _unit(self.seed, resource, index, 2) < self.shape.export_delay_p:
                arrival += int((20 + 130 * _unit(self.seed, resource, index, 3)) * NS)
            if arrival >= self.end_ns:
                continue  # arrives after the dump was taken
            batch.sort(key=lambda s: (s.end_ns, s.is_root))
            for i in range(0, len(batch), MAX_BATCH):
                minute = (arrival - self.start_ns) // MINUTE_NS
                self.arrived[minute].append((arrival, resource, batch[i : i + MAX_BATCH]))
        for minute in sorted(
            m for m in self.arrived if self.start_ns + (m + 1) * MINUTE_NS <= watermark
        ):
            requests = sorted(self.arrived.pop(minute), key=lambda r: (r[0], r[1]))
            written = [s for r in requests for s in r[2]]
            yield minute, self._lines(requests), written

    def _lines(self, requests: list[tuple[int, int, list[SpanRec]]]) -> list[dict]:
        lines: list[dict] = []
        group: list[tuple[int, int, list[SpanRec]]] = []
        for req in requests:
            if (
                group
                and req[0] - group[0][0] <= MERGE_NS
                and len(group) < MAX_MERGED
                and all(r[1] != req[1] for r in group)
            ):
                group.append(req)
                continue
            if group:
                lines.append(self._line(group))
            group = [req]
        if group:
            lines.append(self._line(group))
        return lines

    def _line(self, group: list[tuple[int, int, list[SpanRec]]]) -> dict:
        """One request: resourceSpans per process, scopeSpans per instrumentation scope."""
        resource_spans = []
        for _, resource, chunk in group:
            res = self.shape.resources[resource]
            scopes: dict[tuple[str, str], list[dict]] = {}
            for s in chunk:
                scopes.setdefault(s.scope, []).append(s.json)
            resource_spans.append(
                {
                    "resource": {"attributes": res.attributes},
                    "scopeSpans": [
                        {"scope": {"name": name, "version": version}, "spans": items}
                        for (name, version), items in scopes.items()
                    ],
                    "schemaUrl": res.schema_url,
                }
            )
        return {"resourceSpans": resource_spans}
