"""Run one partition rewrite in a real process, so a test can SIGKILL it at a named step.

Usage: python rewrite_driver.py [--no-exchange] LAKE PARTITION WORK RUN_ID...
(--no-exchange takes the fallback path of platforms without RENAME_EXCHANGE).
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pyarrow as pa

from fleetsignals.retention import rewrite
from fleetsignals.retention.rewrite import Workspace, recover, rewrite_partition, span_files


def main() -> None:
    args = sys.argv[1:]
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
