"""fleetsignals.sqltext: names and paths with quotes in them survive into SQL text."""

from __future__ import annotations

from pathlib import Path

import duckdb

from fleetsignals.sqltext import quote_identifier, quote_literal

ROOT = Path(__file__).resolve().parents[1]


def test_hostile_names_and_paths_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "it's here"
    folder.mkdir()
    path = folder / "a'; drop table t; --.parquet"
    name = 'odd "name'
    with duckdb.connect() as con:
        con.execute(
            f"create table {quote_identifier(name)} as select 1 as {quote_identifier(name)}"
        )
        con.execute(f"copy {quote_identifier(name)} to {quote_literal(path)} (format parquet)")
        got = con.execute(f"select * from read_parquet({quote_literal(path)})").fetchall()
        tables = con.execute("select table_name from information_schema.tables").fetchall()
    assert got == [(1,)]
    assert tables == [(name,)]


def test_no_module_quotes_sql_by_hand() -> None:
    offenders = []
    for folder in ("fleetsignals", "ingest", "alerts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if path.name != "sqltext.py" and (
                """.replace("'", "''")""" in text or """.replace('"', '""')""" in text
            ):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
