"""Run one partition rewrite in a real process, so a test can SIGKILL it at a named step.

Usage: python rewrite_driver.py STEP[:N] [--no-exchange] LAKE PARTITION WORK RUN_ID...
(STEP: where to SIGKILL, see tests/fixtures/crashes.py; --no-exchange takes the
fallback path of platforms without RENAME_EXCHANGE).
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for tests.fixtures

from fleetsignals.retention import rewrite  # noqa: E402
from fleetsignals.retention.rewrite import (  # noqa: E402
    Workspace,
    recover,
    rewrite_partition,
    span_files,
)
from tests.fixtures.crashes import install, kill_at  # noqa: E402


def main() -> None:
    install(kill_at(sys.argv[1]))
    args = sys.argv[2:]
    if args[0] == "--no-exchange":
        rewrite.exchange = lambda a, b: False
        args = args[1:]
    lake, partition, work_root, *pruned = args
    work = Workspace(Path(work_root)).ensure()
    recover(Path(lake), work)
    with duckdb.connect(":memory:") as con:
        con.register("pruned_arrow", pa.table({"run_id": pa.array(pruned, pa.string())}))
        con.execute("create temp table pruned as select * from pruned_arrow")
        files = span_files(Path(partition))
        rewrite_partition(con, Path(lake), Path(partition), files, "digest", work)


if __name__ == "__main__":
    main()
