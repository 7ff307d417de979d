"""A warehouse built before run versions existed is rebuilt in full once, not patched."""

from __future__ import annotations

import duckdb

from fleetsignals.home import Home
from fleetsignals.warehouse.runner import predates_run_versions


def test_a_warehouse_without_run_versions_needs_a_full_build(home: Home) -> None:
    assert not predates_run_versions(home)  # nothing built yet: the first build is full anyway
    with duckdb.connect(str(home.database)) as con:
        con.execute("create table int_runs_assembled (run_id varchar)")
    assert predates_run_versions(home)
    with duckdb.connect(str(home.database)) as con:
        con.execute("create table fct_run_versions (run_id varchar)")
    assert not predates_run_versions(home)
