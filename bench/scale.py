"""Where one machine ends: one 5-minute cycle on DuckDB, and the same lake built on Spark.

    .venv/bin/python bench/scale.py [--sizes 1k 10k] [--history-days 1]
        [--history-runs-per-minute 100] [--quick]

For each size (1k concurrent runs is the generator at 2,300 runs/min, about 75,000 spans
per 5 minutes; 10k is 23,000 runs/min, about 750,000; a number is taken as runs/min), in
a fresh temporary home:

1. DuckDB, in one process, as bench/cycle.py runs it (its fleet, clock and stages are
   imported): a day of synthetic history built with a full refresh, one warm-up cycle,
   then the recorded cycle: ingest 5 minutes of OTLP dumps, the incremental build (dbt,
   then publish), evaluate every shipped signal. Then a DuckDB full refresh of the whole
   lake (history and both cycles), the like-for-like figure for Spark's.
2. Spark, in a second process (the in-process Spark keeps one home per process): the
   same lake built by ``fleetsignals.warehouse.build(engine="spark")``, always a full
   refresh (Spark has no incremental build yet, docs/scale-out.md). Stages: the Spark
   session's start (dbt-spark's first ``getOrCreate``), dbt's nodes on Spark (the sum of
   run_results.json's execution times; Spark's profile runs one thread), the rest of
   dbt (parse, hooks, per-node overhead), and publishing: the readers' models DuckDB
   builds into the snapshot, and the rest (fct_runs' export, linking the files).

Prints a table per size: per stage, wall seconds, CPU seconds and peak memory of the
stage's process tree (the process, ingest's workers, Spark's JVM; CPU from /proc at the
stage's start and end, PSS sampled every 0.25 s; "-" where a stage is not a separate
step; a dbt row's peak is its whole build's), spans/s, then the slowest models of each
build. Wall-clock on a shared machine: note the load (``uptime``) beside the figures;
CPU seconds depend less on it.
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

import bench.cycle  # noqa: E402
import fleetsignals.ingest.land  # noqa: E402
import fleetsignals.warehouse.runner as runner  # noqa: E402
from bench.cycle import CYCLE, T0, History, generate_cycles, model_seconds  # noqa: E402
from bench.ingest import tree_cpu_seconds, tree_pss_kib  # noqa: E402
from fleetsignals.config import load_config  # noqa: E402
from fleetsignals.home import Home  # noqa: E402
from fleetsignals.warehouse import build  # noqa: E402

SIZES = {"1k": 2300, "10k": 23000}
QUICK = {"sizes": ["40"], "history_runs_per_minute": 2}
SAMPLE_SECONDS = 0.25


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
    """Mark a stage for the parent, which measures its process tree's CPU and memory."""
    report(begin=name)
    t0 = time.monotonic()
    try:
        yield
    finally:
        report(end=name, seconds=time.monotonic() - t0)


@contextlib.contextmanager
def wrapped(owner: Any, name: str, around: Callable[..., Any]) -> Iterator[None]:
    """Run ``around(original, *args, **kwargs)`` in place of ``owner.name``: measuring
    only, the original always runs."""
    original = getattr(owner, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        return around(original, *args, **kwargs)

    setattr(owner, name, call)
    try:
        yield
    finally:
        setattr(owner, name, original)


def as_phase(name: str) -> Callable[..., Any]:
    def around(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with phase(name):
            return original(*args, **kwargs)

    return around


def lake_spans(home: Home) -> int:
    with duckdb.connect() as con:
        pattern = str(home.lake / "dt=*" / "hr=*" / "*.parquet")
        return con.execute("select count(*) from read_parquet(?)", [pattern]).fetchone()[0]


def run_duckdb(root: Path, rpm: int, days: int, history_rpm: int, seed: int) -> None:
    """History, a warm-up and a recorded cycle, then a full refresh of the whole lake."""
    t0 = time.monotonic()
    dumps = generate_cycles(root, 2, rpm, seed)
    generate_s = time.monotonic() - t0
    history = History(root, days, history_rpm)
    report(
        home=str(history.home.root),
        generate_s=generate_s,
        history_spans=history.spans,
        history_full_s=history.full_s,
    )
    history.cycle(dumps[0], T0, record=False)
    # The recorded cycle's stages, as bench/cycle.py's History calls them.
    with (
        wrapped(fleetsignals.ingest.land, "land_paths", as_phase("ingest")),
        wrapped(bench.cycle, "build", as_phase("build")),
        wrapped(runner, "publish_snapshot", as_phase("build: publish")),
        wrapped(bench.cycle, "evaluate_live", as_phase("evaluate")),
    ):
        history.cycle(dumps[1], T0 + CYCLE, record=True)
    report(
        cycle_spans=history.spans_landed[0],
        cycle_models=history.models[0],
        signals=history.signals,
    )
    with (
        phase("full refresh"),
        wrapped(runner, "publish_snapshot", as_phase("full refresh: publish")),
    ):
        full = build(history.home, history.config, full_refresh=True, run_tests=False)
    report(
        duckdb_full_models=model_seconds(history.home),
        lake_spans=lake_spans(history.home),
        runs=full.runs,
    )


def run_spark(home_root: Path) -> None:
    """The Spark build of the lake the DuckDB process left, split into its stages."""
    from pyspark.sql import SparkSession

    home = Home(home_root)
    nodes: dict[str, float] = {}

    def session_start(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # dbt-spark calls getOrCreate per statement; the first one starts Spark's JVM.
        if SparkSession._instantiatedSession is not None:
            return original(*args, **kwargs)
        with phase("spark: session start"):
            return original(*args, **kwargs)

    def readers(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # The readers' dbt run writes run_results.json over the Spark run's: read it first.
        nodes.update(model_seconds(home))
        with phase("spark: readers"):
            return original(*args, **kwargs)

    with (
        phase("spark"),
        wrapped(SparkSession.Builder, "getOrCreate", session_start),
        wrapped(runner, "_build_readers", readers),
        wrapped(runner, "_publish_spark", as_phase("spark: publish")),
    ):
        summary = build(home, load_config(None), engine="spark")
    report(spark_models=nodes, spark_runs=summary.runs, spark_dbt_s=summary.dbt_seconds)


# --- the parent: runs the children, measures their process trees, prints the table ---


class Stage:
    """Wall seconds (the child's), CPU seconds and peak PSS (MiB) of one marked stage."""

    def __init__(self, cpu_at_start: float) -> None:
        self.cpu_at_start = cpu_at_start
        self.seconds = self.cpu = self.peak = 0.0

    def without(self, inner: Stage) -> Stage:
        """This stage less a stage inside it (the peak stays this stage's)."""
        rest = Stage(0)
        rest.seconds, rest.cpu = self.seconds - inner.seconds, self.cpu - inner.cpu
        rest.peak = self.peak
        return rest


def run_child(args: list[str], cwd: Path) -> tuple[dict[str, Any], dict[str, Stage]]:
    """Run this script as a child; return its merged reports and its marked stages."""
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
    stages: dict[str, Stage] = {}
    running: list[Stage] = []

    def sample() -> None:
        while process.poll() is None:
            pss = tree_pss_kib(process.pid) / 1024
            for stage in list(running):
                stage.peak = max(stage.peak, pss)
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
        if "begin" in event:
            stages[event["begin"]] = stage = Stage(tree_cpu_seconds(process.pid))
            running.append(stage)
        elif "end" in event:
            stage = stages[event["end"]]
            stage.cpu = tree_cpu_seconds(process.pid) - stage.cpu_at_start
            stage.seconds = event["seconds"]
            running.remove(stage)
        else:
            merged.update(event)
    status = process.wait()
    sampler.join()
    if status != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"{tail}\n{args[1]} stage failed with status {status}")
    return merged, stages


def table_rows(
    engine: str, rows: list[tuple[str, float, Stage | None]], whole: Stage, spans: int
) -> list[str]:
    """One line per stage (wall seconds given, CPU and PSS from its Stage if it has one),
    then the total: the whole stage's figures and spans/s."""

    def line(name: str, seconds: float, cpu: str, peak: str, rate: str = "") -> str:
        return f"| {engine} | {name} | {seconds:.2f} | {cpu} | {peak} | {rate} |"

    out = [
        line(name, s, f"{st.cpu:.1f}", f"{st.peak:,.0f}") if st else line(name, s, "-", "-")
        for name, s, st in rows
    ]
    out.append(
        line(
            "**total**",
            whole.seconds,
            f"{whole.cpu:.1f}",
            f"{whole.peak:,.0f}",
            f"{spans / whole.seconds:,.0f}",
        )
    )
    return out


def print_duckdb(size: str, rpm: int, duck: dict[str, Any], st: dict[str, Stage]) -> None:
    """The table's head and DuckDB's rows (printed before Spark's build starts)."""
    cycle_spans, lake = duck["cycle_spans"], duck["lake_spans"]
    print(
        f"\n## {size}: {rpm:,} runs/min, one 5-minute cycle of {cycle_spans:,} spans; "
        f"lake {lake:,} spans ({duck['history_spans']:,} of synthetic history), "
        f"{duck['runs']:,} runs\n"
    )
    print("| engine | stage | wall s | CPU s | peak PSS MiB | spans/s |")
    print("|---|---|---|---|---|---|")
    ingest, build_s, publish, evaluate = (
        st[name] for name in ("ingest", "build", "build: publish", "evaluate")
    )
    dbt = build_s.without(publish)
    cycle = Stage(0)
    cycle.seconds = sum(s.seconds for s in (ingest, build_s, evaluate))
    cycle.cpu = sum(s.cpu for s in (ingest, build_s, evaluate))
    cycle.peak = max(s.peak for s in (ingest, build_s, evaluate))
    full, full_publish = st["full refresh"], st["full refresh: publish"]
    cycle_rows = [
        ("ingest", ingest.seconds, ingest),
        ("build: dbt", dbt.seconds, dbt),
        ("build: publish", publish.seconds, publish),
        ("evaluate", evaluate.seconds, evaluate),
    ]
    full_dbt = full.without(full_publish)
    full_rows = [
        ("dbt", full_dbt.seconds, full_dbt),
        ("publish", full_publish.seconds, full_publish),
    ]
    for row in (
        *table_rows("DuckDB cycle", cycle_rows, cycle, cycle_spans),
        *table_rows("DuckDB full refresh", full_rows, full, lake),
    ):
        print(row, flush=True)


def print_spark(duck: dict[str, Any], spark: dict[str, Any], st: dict[str, Stage]) -> None:
    """Spark's rows, then what the table does not say."""
    on_spark = sum(spark["spark_models"].values())
    start, readers, publish = st["spark: session start"], st["spark: readers"], st["spark: publish"]
    rows = [
        ("session start", start.seconds, start),
        ("dbt nodes on Spark", on_spark, None),
        (
            "dbt: parse, hooks, per-node overhead",
            spark["spark_dbt_s"] - start.seconds - on_spark,
            None,
        ),
        ("publish: readers' models on DuckDB", readers.seconds, readers),
        ("publish: fct_runs export, linking", publish.seconds - readers.seconds, None),
    ]
    for row in table_rows("Spark full refresh", rows, st["spark"], duck["lake_spans"]):
        print(row)
    ingest, cycle_spans = st["ingest"], duck["cycle_spans"]
    print(
        f"\ningest {cycle_spans / ingest.seconds:,.0f} spans/s ({cycle_spans / ingest.cpu:,.0f} "
        f"per CPU second); evaluate ran {duck['signals']} signals. Spark has no incremental "
        "build yet: every Spark build is a full refresh of the lake, so compare it with "
        "DuckDB's full refresh, not with the cycle."
    )


def print_slowest(duck: dict[str, Any], spark: dict[str, Any], count: int) -> None:
    for what, models in (
        ("DuckDB cycle (s, overlapping on 2 threads)", duck["cycle_models"]),
        ("DuckDB full refresh", duck["duckdb_full_models"]),
        ("Spark (s, one thread)", spark["spark_models"]),
    ):
        top = sorted(models.items(), key=lambda kv: -kv[1])[:count]
        print(f"slowest models, {what}: " + ", ".join(f"{m} {s:.2f}" for m, s in top))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
            history = (args.history_days, args.history_runs_per_minute, args.seed)
            duck, duck_stages = run_child(
                ["--child", "duckdb", str(root), str(rpm), *map(str, history)], root
            )
            print_duckdb(size, rpm, duck, duck_stages)
            spark, spark_stages = run_child(["--child", "spark", duck["home"]], root)
            print_spark(duck, spark, {**duck_stages, **spark_stages})
            print_slowest(duck, spark, args.models)
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
