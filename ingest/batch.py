"""Small files parsed together: one span query for many files.

Each span query has a fixed cost of about 40 ms (binding and planning), more
than parsing a minute of a small fleet's spans. The Collector's file exporter
rotates often, so a backfill lands hundreds of small files. Their records are
joined into one chunk, each record's line number tagged with its file's place
in the batch (the bits above ``_SHIFT``), parsed once, and the span rows and
problems are handed back per file, with the line numbers restored. With worker
processes (a run whose small files add up to ``ingest.processes_from_mib``) a batch is
cut into one merged chunk per worker, and the next batch is parsed while this one is
written (``ingest/land.py``).
"""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleetsignals.ingest.parse import Problem, SpanParser
from fleetsignals.ingest.sources import CHUNK_BYTES, Chunk
from fleetsignals.ingest.workers import InlineParser, ParserPool

SMALL_FILE_BYTES = 1 << 20  # files up to this size on disk are batched
BATCH_BYTES = CHUNK_BYTES  # a batch is closed at this much input
_SHIFT = 40  # line numbers stay below 2**40 (a trillion lines per file)

Parsed = tuple[pa.Table | None, list[Problem]]


def _merge(chunks: list[Chunk]) -> Chunk:
    starts = [np.zeros(1, dtype=np.int64)]
    offset = 0
    for chunk in chunks:
        starts.append(chunk.starts[1:] + offset)
        offset += len(chunk.data)
    line_nos = [c.line_nos + (np.int64(i) << _SHIFT) for i, c in enumerate(chunks)]
    return Chunk(b"".join(c.data for c in chunks), np.concatenate(starts), np.concatenate(line_nos))


def _split(results: list[Parsed], table: pa.Table | None, problems: list[Problem]) -> None:
    """Hand the rows and problems of one merged parse back to their files (``results``, in
    the order their chunks were merged)."""
    owners = (
        pc.shift_right(table["line_no"], _SHIFT).to_numpy() if table is not None else np.empty(0)
    )
    mask = (1 << _SHIFT) - 1
    for at in range(len(results)):
        mine = [
            Problem(p.line & mask, p.error, p.record) for p in problems if p.line >> _SHIFT == at
        ]
        rows = None
        if table is not None:
            rows = table.filter(pa.array(owners == at))
            lines = pc.bit_wise_and(rows["line_no"], mask)
            rows = rows.set_column(rows.schema.get_field_index("line_no"), "line_no", lines)
        results[at] = (rows, mine)


def _groups(present: list[int], chunks: list[Chunk | None], parts: int) -> list[list[int]]:
    """Consecutive runs of the files with records, about equal in bytes, at most ``parts``."""
    total = sum(len(chunks[i].data) for i in present)  # type: ignore[union-attr]
    groups: list[list[int]] = [[]]
    done = 0
    for i in present:
        if groups[-1] and done >= total * len(groups) / parts:
            groups.append([])
        groups[-1].append(i)
        done += len(chunks[i].data)  # type: ignore[union-attr]
    return groups


class Together:
    """The records of several files (None: a file with no records) being parsed in up to
    ``parser.depth`` merged chunks at once (one on an in-process parser)."""

    def __init__(self, parser: InlineParser | ParserPool, chunks: list[Chunk | None]):
        self.count = len(chunks)
        present = [i for i, chunk in enumerate(chunks) if chunk is not None]
        groups = _groups(present, chunks, max(1, parser.depth)) if present else []
        self.parsing: list[tuple[list[int], Future[Parsed]]] = [
            (group, parser.submit(_merge([chunks[i] for i in group])))  # type: ignore[misc]
            for group in groups
        ]

    def results(self) -> list[Parsed]:
        """Per file, its span rows and problems (waits for the parsing)."""
        results: list[Parsed] = [(None, []) for _ in range(self.count)]
        for group, future in self.parsing:
            mine: list[Parsed] = [(None, []) for _ in group]
            _split(mine, *future.result())
            for i, parsed in zip(group, mine, strict=True):
                results[i] = parsed
        return results

    def cancel(self) -> None:
        for _, future in self.parsing:
            future.cancel()


def parse_together(parser: SpanParser, chunks: list[Chunk | None]) -> list[Parsed]:
    """Parse the records of several files (None: a file with no records) in one query."""
    return Together(InlineParser(parser), chunks).results()
