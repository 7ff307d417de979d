"""Quoting names and literals into SQL text, for the places DuckDB takes no parameter.

Values go in as bound parameters (``?``, ``$name``) wherever DuckDB allows one. Some
places do not: a ``COPY ... TO`` target, ``ATTACH``, ``SET temp_directory``, a file
list of ``read_parquet`` in a view, a table or column name. These two helpers are the
only way such text is built, so a quote inside a name or path cannot end the string.
"""

from __future__ import annotations

from pathlib import Path


def quote_identifier(name: str) -> str:
    """A table, schema or column name as a quoted identifier: ``a"b`` -> ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str | Path) -> str:
    """A string (or a path) as a SQL string literal: ``it's`` -> ``'it''s'``."""
    return "'" + str(value).replace("'", "''") + "'"
