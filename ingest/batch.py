"""Small files parsed together: one span query for many files.

Each span query has a fixed cost of about 40 ms (binding and planning), more
than parsing a minute of a small fleet's spans. The Collector's file exporter
rotates often, so a backfill lands hundreds of small files. Their records are
joined into one chunk, each record's line number tagged with its file's place
in the batch (the bits above ``_SHIFT``), parsed once, and the span rows and
problems are handed back per file, with the line numbers restored.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleetsignals.ingest.parse import Problem, SpanParser
from fleetsignals.ingest.sources import CHUNK_BYTES, Chunk

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


def parse_together(parser: SpanParser, chunks: list[Chunk | None]) -> list[Parsed]:
    """Parse the records of several files (None: a file with no records) in one query."""
    present = [i for i, chunk in enumerate(chunks) if chunk is not None]
    results: list[Parsed] = [(None, []) for _ in chunks]
    if not present:
        return results
    table, problems = parser.parse(_merge([chunks[i] for i in present]))
    owners = (
        pc.shift_right(table["line_no"], _SHIFT).to_numpy() if table is not None else np.empty(0)
    )
    mask = (1 << _SHIFT) - 1
    for at, i in enumerate(present):
        mine = [
            Problem(p.line & mask, p.error, p.record) for p in problems if p.line >> _SHIFT == at
        ]
        rows = None
        if table is not None:
            rows = table.filter(pa.array(owners == at))
            lines = pc.bit_wise_and(rows["line_no"], mask)
            rows = rows.set_column(rows.schema.get_field_index("line_no"), "line_no", lines)
        results[i] = (rows, mine)
    return results
