"""The path from an SDK to the Collector's file exporter.

Each process (resource) runs a BatchSpanProcessor: a span is queued when it ends
and the queue is exported every 5 s (at most 512 spans per request), at a phase
of its own. A few export requests fail and are retried tens of seconds later, so
they land in a later file, behind newer spans. The Collector's batch processor
merges requests from different processes that arrive within 200 ms into one
line. The file exporter writes one ExportTraceServiceRequest per line and the
files rotate every minute. The dump is cut at the fleet's end: what had not
arrived by then is not written (runs in flight have no root yet).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from fleetsignals.generate.shape import FleetShape
from fleetsignals.generate.simulate import SpanRec

NS = 1_000_000_000
SCHEDULE_DELAY_NS = 5 * NS  # OTEL_BSP_SCHEDULE_DELAY default
MAX_BATCH = 512  # OTEL_BSP_MAX_EXPORT_BATCH_SIZE default
MERGE_NS = 200_000_000  # Collector batch processor timeout
MAX_MERGED = 8  # resources per merged request


def export_lines(
    spans: list[SpanRec],
    shape: FleetShape,
    seed: int,
    start_ns: int,
    end_ns: int,
) -> dict[int, list[dict]]:
    """Minute index (since start) -> the ExportTraceServiceRequests written in it, in order.

    Sets ``arrival_ns`` on every span that was written.
    """
    rng = np.random.default_rng([seed, 4])
    phases = rng.integers(0, SCHEDULE_DELAY_NS, size=len(shape.resources))
    batches: dict[tuple[int, int], list[SpanRec]] = defaultdict(list)
    for s in spans:
        phase = int(phases[s.resource])
        batches[(s.resource, (s.end_ns - start_ns - phase) // SCHEDULE_DELAY_NS + 1)].append(s)

    keys = sorted(batches)
    jitter = rng.integers(5_000_000, 300_000_000, size=len(keys))
    delayed = rng.random(len(keys)) < shape.export_delay_p
    retry = rng.integers(20 * NS, 150 * NS, size=len(keys))
    requests: list[tuple[int, int, list[SpanRec]]] = []  # arrival, resource, spans
    for k, key in enumerate(keys):
        resource, index = key
        arrival = start_ns + int(phases[resource]) + index * SCHEDULE_DELAY_NS + int(jitter[k])
        if delayed[k]:
            arrival += int(retry[k])
        if arrival >= end_ns:
            continue
        batch = sorted(batches[key], key=lambda s: (s.end_ns, s.is_root))
        for i in range(0, len(batch), MAX_BATCH):
            chunk = batch[i : i + MAX_BATCH]
            for s in chunk:
                s.arrival_ns = arrival
            requests.append((arrival, resource, chunk))
    requests.sort(key=lambda r: (r[0], r[1]))

    lines: dict[int, list[dict]] = defaultdict(list)
    current: list[tuple[int, int, list[SpanRec]]] = []
    for req in requests:
        if (
            current
            and req[0] - current[0][0] <= MERGE_NS
            and len(current) < MAX_MERGED
            and all(r[1] != req[1] for r in current)
        ):
            current.append(req)
            continue
        if current:
            _flush(current, shape, start_ns, lines)
        current = [req]
    if current:
        _flush(current, shape, start_ns, lines)
    return lines


def _flush(
    group: list[tuple[int, int, list[SpanRec]]],
    shape: FleetShape,
    start_ns: int,
    lines: dict[int, list[dict]],
) -> None:
    """One line: resourceSpans per process, scopeSpans per instrumentation scope."""
    written_at = group[-1][0]  # the merged request is written when its last part arrived
    resource_spans = []
    for _, resource, chunk in group:
        res = shape.resources[resource]
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
    lines[(written_at - start_ns) // (60 * NS)].append({"resourceSpans": resource_spans})
