"""The docs against a built warehouse: every column they name exists, every SQL example runs.

Conventions the docs follow (so nothing here is a hand-written list of columns):

- a backticked ``table.column`` whose ``table`` is a warehouse relation names a column;
- in a Markdown table whose first header cell is ``table`` (docs/warehouse.md's list of
  tables), the first cell is a relation, the names in its grain cell are its columns,
  and every other backticked name is a relation or one of its columns;
- ``<!-- columns of TABLE -->`` before a Markdown table: the backticked names in its
  first column are columns of TABLE;
- every fenced ``sql`` block runs as written: a signal (``/* ---`` front matter) loads
  and runs at the data's "now"; other blocks run statement by statement, their ``$name``
  parameters bound to the data's "now" (the only parameter they use).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from fleetsignals.alerts.definitions import load_signals
from fleetsignals.home import Home
from fleetsignals.snapshot import connect_snapshot
from tests.fixtures.warehouses import query

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC_FILES = sorted(DOCS.glob("*.md"))
QUALIFIED = re.compile(r"`([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)`")
BACKTICKED = re.compile(r"`([a-z_][a-z0-9_]*)`")
MARKER = re.compile(r"<!--\s*columns of\s+([a-z_][a-z0-9_]*)\s*-->")
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.S | re.M)
PARAMETER = re.compile(r"\$([a-z_][a-z0-9_]*)")


@pytest.fixture(scope="module")
def columns(synthetic_home: Home) -> dict[str, set[str]]:
    rows = query(
        synthetic_home,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'main'",
    )
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def markdown_tables(text: str) -> list[tuple[str, list[list[str]]]]:
    """(the line before the table, rows as cells; header first, separator dropped)."""
    tables: list[tuple[str, list[list[str]]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            before = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                if not lines[i].startswith("|---"):
                    rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            tables.append((before, rows))
        i += 1
    return tables


def named_columns(text: str, columns: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Every (relation, column) the conventions above say the text names."""
    named = [(t, c) for t, c in QUALIFIED.findall(text) if t in columns]
    for before, rows in markdown_tables(text):
        header, body = rows[0], rows[1:]
        if header[0] == "table":
            for row in body:
                relation = row[0].strip("`")  # the convention: one backticked relation
                named.append((relation, "*"))
                named += [(relation, c) for c in re.findall(r"[a-z_][a-z0-9_]*", row[1])]
                for cell in row[2:]:
                    named += [(relation, c) for c in BACKTICKED.findall(cell) if c not in columns]
        marker = MARKER.search(before)
        if marker:
            named += [(marker[1], c) for row in body for c in BACKTICKED.findall(row[0])]
    return named


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.name)
def test_every_column_the_docs_name_exists(doc: Path, columns: dict[str, set[str]]) -> None:
    missing = [
        f"{table}.{column}"
        for table, column in named_columns(doc.read_text(), columns)
        if table not in columns or (column != "*" and column not in columns[table])
    ]
    assert missing == []


def test_the_conventions_find_the_column_lists(columns: dict[str, set[str]]) -> None:
    """Guards the parser: the docs' main column lists are seen (else the test above is void)."""
    warehouse = {t for t, _ in named_columns((DOCS / "warehouse.md").read_text(), columns)}
    assert {"spans", "fct_runs", "fct_llm_calls", "fct_tool_calls", "dim_data_clock"} <= warehouse
    assert ("fct_windows_60m", "duration_ms_p99") in named_columns(
        (DOCS / "warehouse.md").read_text(), columns
    )
    fingerprints = named_columns((DOCS / "fingerprints.md").read_text(), columns)
    assert ("fct_run_fingerprints", "recovery_rate") in fingerprints
    ingest = named_columns((DOCS / "ingest.md").read_text(), columns)
    assert ("spans", "reported_cost_usd") in ingest
    assert ("spans", "cost_usd") not in ingest  # the lake file's name, not the table's


def test_a_wrong_column_is_caught(columns: dict[str, set[str]]) -> None:
    text = "<!-- columns of spans -->\n| column | keys |\n|---|---|\n| `cost_usd` | x |\n"
    text += "see `fct_runs.costs_usd`\n"
    named = named_columns(text, columns)
    assert [(t, c) for t, c in named if c not in columns[t]] == [
        ("fct_runs", "costs_usd"),
        ("spans", "cost_usd"),
    ]


def sql_examples() -> list[tuple[str, str]]:
    """(doc, SQL): a signal file (``/* ---`` front matter) whole, other blocks by statement."""
    examples = []
    for doc in DOC_FILES:
        for block in SQL_BLOCK.findall(doc.read_text()):
            if block.lstrip().startswith("/* ---"):
                examples.append((doc.name, block))
                continue
            for statement in duckdb.extract_statements(block):
                examples.append((doc.name, statement.query))
    return examples


@pytest.mark.parametrize(
    ("doc", "sql"), sql_examples(), ids=lambda v: v if v.endswith(".md") else None
)
def test_sql_examples_run_as_written(
    doc: str, sql: str, synthetic_home: Home, tmp_path: Path
) -> None:
    with connect_snapshot(synthetic_home) as con:
        (now,) = con.execute("select watermark_at from dim_data_clock").fetchone()
        if sql.lstrip().startswith("/* ---"):  # a signal: loads, checks and runs as one
            (tmp_path / "example.sql").write_text(sql)
            loaded, problems = load_signals([tmp_path], con)
            assert [str(p) for p in problems] == []
            con.execute(loaded[0].sql, loaded[0].bind(now)).fetchall()
            return
        params = dict.fromkeys(PARAMETER.findall(sql), now)
        con.execute(sql, params or None).fetchall()


def test_the_data_clock_is_the_newest_span_end(synthetic_home: Home) -> None:
    ((now, newest, runs_now),) = query(
        synthetic_home,
        "select (select watermark_at from dim_data_clock), (select max(end_at) from spans), "
        "(select max(watermark_at) from fct_runs)",
    )
    assert now == newest == runs_now
