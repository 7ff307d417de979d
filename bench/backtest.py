"""Backtest speed: all signals over a long history at 5-minute steps, and the engine's overhead.

    .venv/bin/python bench/backtest.py --home /path/to/home            # a built home
    .venv/bin/python bench/backtest.py --hours 17 --runs-per-minute 25  # generate, ingest, build

Target (issue 4): 17 hours at 5-minute steps (~205 steps), every shipped signal, a
~25k-run fleet, in <= 60 s. Prints, per round (alternated, as the machine is shared
and noisy): the backtest's wall time, the bare signal queries' wall time (the same
SQL at the same steps with nothing around it: the baseline), and their ratio, which
is the engine's overhead (wall and process CPU time: on a shared machine CPU time is the
steadier figure); then query seconds per signal. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from fleetsignals.alerts.backtest import run_backtest, step_times
from fleetsignals.alerts.definitions import load_signals
from fleetsignals.config import load_config
from fleetsignals.home import Home
from fleetsignals.snapshot import connect_snapshot
from fleetsignals.timeutil import parse_duration

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> None:
    exe = Path(sys.executable).with_name("fleetsignals")
    subprocess.run([str(exe), *args], check=True, cwd=REPO)


def _prepare(work: Path, hours: float, rate: float) -> Home:
    fleet, home = work / "fleet", Home(work / "home")
    print(f"generating {hours} h at {rate} runs/min, ingesting, building in {work} ...")
    _cli("generate", "--out", str(fleet), "--hours", str(hours), "--runs-per-minute", str(rate))
    _cli("--home", str(home.root), "ingest", str(fleet / "dumps"))
    _cli("--home", str(home.root), "build")
    return home


def _bare(home: Home, config, steps: list[datetime]) -> tuple[float, float]:
    """The baseline: each signal's query at each step, results fetched, nothing else."""
    with connect_snapshot(home) as con:
        signals, _ = load_signals(config["signal_dirs"], con)
        started, cpu = time.perf_counter(), time.process_time()
        for at in steps:
            for signal in signals:
                con.execute(signal.sql, signal.bind(at)).fetchall()
        return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="a built home (default: generate one)")
    parser.add_argument("--hours", type=float, default=17.0)
    parser.add_argument("--runs-per-minute", type=float, default=25.0)
    parser.add_argument("--every", default="5m")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    config = load_config(None)
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        home = (
            Home(args.home.resolve())
            if args.home
            else _prepare(Path(tmp), args.hours, args.runs_per_minute)
        )
        with connect_snapshot(home) as con:
            first, last, runs = con.execute(
                "select min(started_at), max(ended_at), count(*) from fct_runs"
            ).fetchone()
        start = first.replace(minute=0, second=0, microsecond=0)
        every = parse_duration(args.every)
        end = min(last, start + timedelta(hours=args.hours))
        steps = step_times(start, end, every)
        print(f"fleet: {runs} runs; backtest {start} .. {end}, {len(steps)} steps")
        for round_number in range(1, args.rounds + 1):
            started, cpu = time.perf_counter(), time.process_time()
            result = run_backtest(home, config, start, end, every)
            engine, engine_cpu = time.perf_counter() - started, time.process_time() - cpu
            bare, bare_cpu = _bare(home, config, steps)
            print(
                f"round {round_number}: backtest {engine:.1f}s wall / {engine_cpu:.1f}s CPU for "
                f"{len(steps)} steps x {len(result.seconds)} signals "
                f"({len(result.records)} instance records); bare queries {bare:.1f}s wall / "
                f"{bare_cpu:.1f}s CPU; overhead ratio {engine / bare:.2f} wall, "
                f"{engine_cpu / bare_cpu:.2f} CPU"
            )
            for name, seconds in sorted(result.seconds.items()):
                print(
                    f"    {name:<24} {seconds:6.1f}s  ({1000 * seconds / len(steps):.0f} ms/step)"
                )
            for problem in result.problems:
                print(f"    problem: {problem}")


if __name__ == "__main__":
    main()
