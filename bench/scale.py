"""Where one machine ends: one 5-minute cycle on DuckDB, and the same lake built on Spark.

    .venv/bin/python bench/scale.py [--sizes 1k 10k] [--history-days 1]
        [--history-runs-per-minute 100] [--quick]

For each size (1k concurrent runs is the generator at 2,300 runs/min, about 75,000 spans
per 5 minutes; 10k is 23,000 runs/min, about 750,000; a number is taken as runs/min), in
a fresh temporary home:

1. DuckDB, in one process, as bench/cycle.py runs it (its fleet, clock and stages are
   imported): a day of synthetic history built with a full refresh, one warm-up cycle,
   then the recorded cycle: ingest 5 minutes of OTLP dumps, the incremental build (dbt,
   publish), evaluate every shipped signal. Then a DuckDB full refresh of the whole lake
   (history and both cycles), the like-for-like figure for Spark's.
2. Spark, in a second process (the in-process Spark keeps one home per process): the
   same lake built by ``fleetsignals.warehouse.build(engine="spark")``, always a full
   refresh (Spark has no incremental build yet, docs/scale-out.md). Stages: the Spark
   session's start (dbt-spark's first ``getOrCreate``), dbt's nodes on Spark (sum of
   run_results.json's execution times; Spark's profile runs one thread), the rest of
   dbt (parse, hooks, per-node overhead), and publishing split into the readers' models
   DuckDB builds into the snapshot and the rest (fct_runs' export, linking the files).

Prints a table per size: seconds per stage per engine, spans/s, and the peak memory
(PSS, sampled every 0.1 s, of the process and its children: ingest's workers, Spark's
JVM) of the cycle, of each full refresh; then the slowest models of each build.
Wall-clock on a shared machine: note the load (``uptime``) beside the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

import fleetsignals.warehouse.runner as runner  # noqa: E402
from bench.cycle import CYCLE, T0, History, generate_cycles, model_seconds  # noqa: E402
from bench.ingest import tree_pss_kib  # noqa: E402
from fleetsignals.config import load_config  # noqa: E402
from fleetsignals.home import Home  # noqa: E402
from fleetsignals.warehouse import build  # noqa: E402

SIZES = {"1k": 2300, "10k": 23000}
QUICK = {"sizes": ["40"], "history_runs_per_minute": 2}
SAMPLE_SECONDS = 0.1


def runs_per_minute(size: str) -> int:
    """A named size's generator rate, or a number of runs per minute."""
    if size in SIZES:
        return SIZES[size]
    if size.isdigit() and int(size) > 0:
        return int(size)
    raise SystemExit(f"--sizes takes {', '.join(SIZES)} or a number of runs/min (got {size!r})")


# --- the child processes: one per engine, reporting phases and results as JSON lines ---


def report(**event: Any) -> None:
    print(json.dumps(event), flush=True)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Tell the parent which phase the memory samples belong to."""
    report(phase=name)
    yield
    report(phase=None)


@contextlib.contextmanager
def wrapped(owner: Any, name: str, around: Callable[..., Any]) -> Iterator[None]:
    """Run ``around(original, *args, **kwargs)`` in place of ``owner.name`` (timing only:
    the original always runs)."""
    original = getattr(owner, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        return around(original, *args, **kwargs)

    setattr(owner, name, call)
    try:
        yield
    finally:
        setattr(owner, name, original)


def lake_spans(home: Home) -> int:
    with duckdb.connect() as con:
        pattern = str(home.lake / "dt=*" / "hr=*" / "*.parquet")
        return con.execute("select count(*) from read_parquet(?)", [pattern]).fetchone()[0]


def run_duckdb(root: Path, rpm: int, days: int, history_rpm: int, seed: int) -> None:
    """History, a warm-up and a recorded cycle, then a full refresh of the whole lake."""
    with phase("generate"):
        t0 = time.monotonic()
        dumps = generate_cycles(root, 2, rpm, seed)
        report(generate_s=time.monotonic() - t0)
    with phase("history"):
        history = History(root, days, history_rpm)
        report(
            history_spans=history.spans, history_full_s=history.full_s, home=str(history.home.root)
        )
    history.cycle(dumps[0], T0, record=False)
    with phase("cycle"):
        history.cycle(dumps[1], T0 + CYCLE, record=True)
    row, summary = history.rows[0], history.builds[0]
    report(
        cycle={
            "ingest": row["ingest"],
            "build: dbt": summary.dbt_seconds,
            "build: publish": summary.publish_seconds,
            "evaluate": row["evaluate"],
        },
        cycle_spans=history.spans_landed[0],
        cycle_models=history.models[0],
        signals=history.signals,
    )
    with phase("duckdb full refresh"):
        full = build(history.home, history.config, full_refresh=True, run_tests=False)
    report(
        duckdb_full={
            "dbt": full.dbt_seconds,
            "publish": full.publish_seconds,
        },
        duckdb_full_models=model_seconds(history.home),
        lake_spans=lake_spans(history.home),
        runs=full.runs,
    )


def run_spark(home_root: Path) -> None:
    """The Spark build of the lake the DuckDB process left, split into its stages."""
    from pyspark.sql import SparkSession

    home = Home(home_root)
    seconds: dict[str, float] = {}
    nodes: dict[str, float] = {}

    def session_start(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # dbt-spark calls getOrCreate per statement; the first one starts Spark's JVM.
        t0 = time.monotonic()
        starting = SparkSession._instantiatedSession is None
        try:
            return original(*args, **kwargs)
        finally:
            if starting:
                seconds["session start"] = time.monotonic() - t0

    def readers(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # The readers' dbt run writes run_results.json over the Spark run's: read it first.
        nodes.update(model_seconds(home))
        t0 = time.monotonic()
        try:
            return original(*args, **kwargs)
        finally:
            seconds["readers"] = time.monotonic() - t0

    with (
        phase("spark build"),
        wrapped(SparkSession.Builder, "getOrCreate", session_start),
        wrapped(runner, "_build_readers", readers),
    ):
        summary = build(home, load_config(None), engine="spark")
    on_spark = sum(nodes.values())
    report(
        spark={
            "session start": seconds["session start"],
            "dbt nodes on Spark": on_spark,
            "dbt: parse, hooks, per-node overhead": summary.dbt_seconds
            - seconds["session start"]
            - on_spark,
            "publish: readers' models on DuckDB": seconds["readers"],
            "publish: fct_runs export, linking": summary.publish_seconds - seconds["readers"],
        },
        spark_models=nodes,
        spark_runs=summary.runs,
    )


# --- the parent: runs the children, samples their memory, prints the table ---


def run_child(args: list[str], cwd: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """Run this script as a child; return its merged reports and the peak PSS (MiB) of
    its process tree per phase."""
    env = {k: v for k, v in os.environ.items() if k != "FLEETSIGNALS_CONFIG"}
    # Spark's warnings and progress bars go to a file, shown if the stage fails.
    log = cwd / f"{args[1]}.stderr"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, __file__, *args],
            cwd=cwd,  # no fleetsignals.yml there: the documented defaults
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            text=True,
        )
    current: list[str | None] = [None]
    peaks: dict[str, float] = {}

    def sample() -> None:
        while process.poll() is None:
            name = current[0]
            if name:
                peaks[name] = max(peaks.get(name, 0.0), tree_pss_kib(process.pid) / 1024)
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    merged: dict[str, Any] = {}
    assert process.stdout is not None
    for line in process.stdout:
        if not line.startswith("{"):
            sys.stdout.write(line)  # whatever else the stages print
            continue
        event = json.loads(line)
        if "phase" in event:
            current[0] = event["phase"]
        else:
            merged.update(event)
    status = process.wait()
    sampler.join()
    if status != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"{tail}\n{args[1]} stage failed with status {status}")
    return merged, peaks


def stage_rows(engine: str, stages: dict[str, float], spans: int, peak: float) -> list[str]:
    total = sum(stages.values())
    rows = [f"| {engine} | {name} | {s:8.2f} | {s / total:4.0%} |" for name, s in stages.items()]
    rows.append(
        f"| {engine} | **total** | {total:8.2f} | {spans / total:,.0f} spans/s, "
        f"peak PSS {peak:,.0f} MiB |"
    )
    return rows


def slowest(models: dict[str, float], count: int) -> str:
    top = sorted(models.items(), key=lambda kv: -kv[1])[:count]
    return ", ".join(f"{name} {s:.2f}" for name, s in top)


def print_size(
    size: str,
    rpm: int,
    duck: dict[str, Any],
    spark: dict[str, Any],
    peaks: dict[str, float],
    models: int,
) -> None:
    cycle_spans, lake = duck["cycle_spans"], duck["lake_spans"]
    print(
        f"\n## {size}: {rpm:,} runs/min, one 5-minute cycle of {cycle_spans:,} spans; "
        f"lake {lake:,} spans ({duck['history_spans']:,} of synthetic history), "
        f"{duck['runs']:,} runs\n"
    )
    print("| engine | stage | seconds | share |")
    print("|---|---|---|---|")
    for row in (
        *stage_rows("DuckDB cycle", duck["cycle"], cycle_spans, peaks["cycle"]),
        *stage_rows("DuckDB full refresh", duck["duckdb_full"], lake, peaks["duckdb full refresh"]),
        *stage_rows("Spark full refresh", spark["spark"], lake, peaks["spark build"]),
    ):
        print(row)
    ingest = duck["cycle"]["ingest"]
    print(
        f"\ningest {cycle_spans / ingest:,.0f} spans/s; evaluate ran {duck['signals']} signals. "
        "Spark has no incremental build yet: every Spark build is a full refresh of the lake, "
        "so compare it with DuckDB's full refresh, not with the cycle."
    )
    print(
        f"slowest models, DuckDB cycle (s, overlapping on 2 threads): {slowest(duck['cycle_models'], models)}"
    )
    print(f"slowest models, DuckDB full refresh: {slowest(duck['duckdb_full_models'], models)}")
    print(f"slowest models, Spark (s, one thread): {slowest(spark['spark_models'], models)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: .venv/bin/python bench/scale.py --sizes 1k 10k",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=list(SIZES),
        help="1k, 10k (concurrent runs) or runs per minute [default: 1k 10k]",
    )
    parser.add_argument("--history-days", type=int, default=1, help="days of synthetic history")
    parser.add_argument(
        "--history-runs-per-minute", type=int, default=100, help="synthetic history rate"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--models", type=int, default=6, help="slowest models listed per build")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny fleet (40 runs/min, history at 2 runs/min): checks the bench runs",
    )
    parser.add_argument("--keep", type=Path, help="keep the homes under this directory")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "duckdb":
            root, rpm, days, history_rpm, seed = rest
            run_duckdb(Path(root), int(rpm), int(days), int(history_rpm), int(seed))
        else:
            run_spark(Path(rest[0]))
        return
    if args.quick:
        args.sizes, args.history_runs_per_minute = QUICK["sizes"], QUICK["history_runs_per_minute"]
    sizes = [(size, runs_per_minute(size)) for size in args.sizes]
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for size, rpm in sizes:
            root = Path(tmp) / f"size-{size}"
            root.mkdir()
            child = [
                str(root),
                str(rpm),
                str(args.history_days),
                str(args.history_runs_per_minute),
                str(args.seed),
            ]
            duck, duck_peaks = run_child(["--child", "duckdb", *child], root)
            spark, spark_peaks = run_child(["--child", "spark", duck["home"]], root)
            print_size(size, rpm, duck, spark, {**duck_peaks, **spark_peaks}, args.models)
            if args.keep:
                shutil.copytree(root, args.keep / root.name, symlinks=True)
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
