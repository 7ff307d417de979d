"""Readers' side of the warehouse: a consistent, read-only snapshot.

DuckDB allows one writer process per database file, and a reader would block
(or be blocked by) it. So readers never open the file dbt writes: after each
build the warehouse publishes a snapshot (see ``fleetsignals.warehouse``),
and ``HOME/snapshots/CURRENT`` names the newest one. The pointer is replaced
atomically, so a reader sees either the old or the new snapshot, whole.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home


def current_snapshot(home: Home) -> Path:
    """Path of the newest published snapshot database."""
    pointer = home.snapshots / "CURRENT"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise FleetsignalsError(
            f"no warehouse snapshot under {home.root}: run `fleetsignals build` first"
        ) from None
    return home.snapshots / name


def connect_snapshot(home: Home) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the newest snapshot; statements that write are refused."""
    return duckdb.connect(str(current_snapshot(home)), read_only=True)


def has_snapshot(home: Home) -> bool:
    """Whether a build has published a snapshot yet."""
    return (home.snapshots / "CURRENT").is_file()
