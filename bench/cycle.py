"""One scheduler cycle at fleet scale: ingest 5 minutes of dumps, build, evaluate.

    .venv/bin/python bench/cycle.py [--days 1 7] [--runs-per-minute 2300]
        [--history-runs-per-minute 100] [--rounds 3] [--compare-as-of] [--keep DIR]

The current load is the realistic path: fleetsignals.generate writes OTLP/JSON minute
files of a healthy fleet, once (``--runs-per-minute`` is the generator's nominal rate: it
follows a daily curve, and runs have ~12 spans; at this hour 2,300 gives the issue's
~75,000 spans per 5 minutes), and every cycle lands the next 5 minutes of
them (fleetsignals.ingest.land), builds incrementally in-process (fleetsignals.warehouse.build) and
evaluates every shipped signal at the cycle's time (alerts.engine.evaluate_live, no
notices). History is synthesized straight into the lake (tests.fixtures.synthetic,
as bench/build.py does) at ``--history-runs-per-minute``, then built once with a full
refresh and one unrecorded warm-up cycle (the scheduler's process has parsed dbt already).

The clock is simulated: each cycle lands its files as of the cycle's time (ingest stamps
``landed_at`` with it), so the incremental bounds (lookback, landed overlap) re-read what
a live scheduler on a 5-minute cycle would, however fast the bench runs. The histories
take turns cycle by cycle, so a burst of load on the shared machine hits each alike.
Prints seconds per stage (median over the rounds), the total, the runs each build
recomputed against the runs that landed, and the ratio of the longest history's cycle
to the shortest's (targets: total <= 30 s, ratio <= 1.3).

``--compare-as-of`` also evaluates each cycle on a plain snapshot connection, without the
as-of views that evaluation uses (fleetsignals.sandbox.AS_OF_VIEWS), in alternating order,
and prints the ratio as-of / plain: what showing the marts as of $eval_at costs.

``--keep DIR`` makes the data homes under DIR (``DIR/days<N>``) instead of the temporary
directory and leaves them there, built and evaluated as of the last cycle, for
``bench/evaluate.py`` (per signal, plain against as-of, on that home).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fleetsignals.alerts.engine  # noqa: E402
import fleetsignals.ingest.land  # noqa: E402
from fleetsignals.alerts.engine import evaluate_live  # noqa: E402
from fleetsignals.config import load_config  # noqa: E402
from fleetsignals.generate import generate_fleet  # noqa: E402
from fleetsignals.home import Home  # noqa: E402
from fleetsignals.sandbox import connect_sandbox  # noqa: E402
from fleetsignals.timeutil import parse_time  # noqa: E402
from fleetsignals.warehouse import BuildSummary, build  # noqa: E402
from tests.fixtures.synthetic import write_synthetic_lake  # noqa: E402

T0 = datetime(2026, 11, 20)  # the first cycle that counts; history ends here
CYCLE = timedelta(minutes=5)
STAGES = ("ingest", "build", "evaluate")


@contextlib.contextmanager
def plain_evaluation():
    """evaluate_live on a snapshot connection without the as-of views (the baseline)."""
    engine = fleetsignals.alerts.engine
    original = engine.connect_sandbox
    engine.connect_sandbox = lambda home, config, as_of=False: connect_sandbox(home, config)
    try:
        yield
    finally:
        engine.connect_sandbox = original


class Clock:
    """The simulated wall clock ingest stamps ``landed_at`` with."""

    def __init__(self) -> None:
        self.now = T0

    def parse_time(self, text: str) -> datetime:
        return self.now if text == "now" else parse_time(text)


CLOCK = Clock()
# Ingest reads "now" through this name only: the landed files carry the cycle's time.
fleetsignals.ingest.land.parse_time = CLOCK.parse_time


def split_dumps(dumps: Path, root: Path, cycles: int) -> list[Path]:
    """Move the generator's minute files into one directory per cycle (5 files each).

    Cycle k (0 = warm-up) holds the files of minutes [T0 + (k - 1) * 5m, T0 + k * 5m).
    """
    files = sorted(dumps.glob("traces-*"))
    dirs = []
    for k in range(cycles):
        target = root / f"cycle{k}"
        target.mkdir(parents=True)
        for path in files[k * 5 : (k + 1) * 5]:
            shutil.copy(path, target / path.name)
        dirs.append(target)
    return dirs


def generate_cycles(root: Path, cycles: int, rpm: int, seed: int) -> list[Path]:
    """A healthy fleet's OTLP dumps from T0 - 5 min, one directory per cycle (see
    split_dumps; cycle 0 is the warm-up)."""
    generate_fleet(
        root / "fleet",
        start=T0 - CYCLE,
        hours=cycles * 5 / 60,
        runs_per_minute=rpm,
        seed=seed,
        incidents=[],
    )
    return split_dumps(root / "fleet" / "dumps", root / "cycles", cycles)


def model_seconds(home: Home) -> dict[str, float]:
    """Seconds per model of the home's last build (dbt's run_results.json). dbt runs
    models on several threads, so they overlap: shares of the build, not a sum of it."""
    results = json.loads((home.root / "target" / "run_results.json").read_text())
    return {r["unique_id"].rsplit(".", 1)[-1]: r["execution_time"] for r in results["results"]}


def runs_rebuilt(home: Home) -> tuple[int, int]:
    """(runs landed, runs recomputed) by the home's last build: runs with a span landed at
    its newest landed_at (the bench stamps a cycle's landings with one time), and its
    int_runs_indexed rows (each carries the id of the build that last recomputed it)."""
    with duckdb.connect(str(home.database), read_only=True) as con:
        return con.execute(
            "with last as (select build_id, landed_through_at from int_build_watermarks_recorded"
            " order by build_seq desc limit 1) "
            "select (select count(distinct trace_id) from read_parquet($lake) as spans, last"
            " where spans.landed_at = last.landed_through_at), "
            "(select count(*) from int_runs_indexed as runs, last where runs.build_id = last.build_id)",
            {"lake": str(home.lake / "*" / "*" / "*.parquet")},
        ).fetchone()


class History:
    """One data home with ``days`` of synthetic history, built once."""

    def __init__(self, root: Path, days: int, rpm: int) -> None:
        self.days = days
        self.home = Home(root / f"days{days}").ensure()
        self.config = load_config(None)
        t0 = time.monotonic()
        start = T0 - timedelta(days=days)
        self.spans = write_synthetic_lake(
            self.home.lake,
            start=start,
            hours=days * 24,
            runs_per_minute=rpm,
            seed=days,
            until=T0 - CYCLE,
            landed_at=T0 - CYCLE,
        )
        self.synth_s = time.monotonic() - t0
        full = build(self.home, self.config, full_refresh=True, run_tests=False)
        self.runs, self.full_s = full.runs, full.seconds
        self.rows: list[dict[str, float]] = []
        self.models: list[dict[str, float]] = []  # per recorded build: model -> seconds
        self.spans_landed: list[int] = []
        self.builds: list[BuildSummary] = []  # per recorded build
        self.runs_rebuilt: list[tuple[int, int]] = []  # per recorded build: landed, recomputed
        self.signals = 0

    def cycle(self, dumps: Path, at: datetime, record: bool, compare: bool = False) -> None:
        """Land one cycle's dumps as of ``at``, build incrementally, evaluate at ``at``."""
        CLOCK.now = at
        row = {}
        t0 = time.monotonic()
        landed = fleetsignals.ingest.land.land_paths(
            [dumps], self.home, self.config, settle_seconds=0
        )
        row["ingest"] = time.monotonic() - t0
        t0 = time.monotonic()
        summary = build(self.home, self.config)
        row["build"] = time.monotonic() - t0
        # Alternate which goes first, so a warm cache favours neither.
        order = ("evaluate", "plain") if at.minute % 10 else ("plain", "evaluate")
        for stage in order if compare else ("evaluate",):
            t0 = time.monotonic()
            with plain_evaluation() if stage == "plain" else contextlib.nullcontext():
                outcome = evaluate_live(self.home, self.config, at=at, notify=False)
            row[stage] = time.monotonic() - t0
        if outcome.problems:
            raise SystemExit(f"signal problems: {outcome.problems}")
        self.signals = len(outcome.evaluated)
        if record:
            self.rows.append(row)
            self.spans_landed.append(landed.spans)
            self.models.append(model_seconds(self.home))
            self.builds.append(summary)
            self.runs_rebuilt.append(runs_rebuilt(self.home))

    def median(self, stage: str) -> float:
        return statistics.median(row[stage] for row in self.rows)

    def total(self) -> float:
        return statistics.median(sum(row[s] for s in STAGES) for row in self.rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[1, 7])
    parser.add_argument("--runs-per-minute", type=int, default=2300, help="current load")
    parser.add_argument(
        "--history-runs-per-minute", type=int, default=100, help="synthetic history rate"
    )
    parser.add_argument("--rounds", type=int, default=3, help="recorded cycles per history")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--models", type=int, default=8, help="slowest models listed")
    parser.add_argument(
        "--compare-as-of",
        action="store_true",
        help="also evaluate without the as-of views and print the ratio",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep each history's data home as DIR/days<N> (e.g. for bench/evaluate.py);"
        " DIR must not exist yet",
    )
    args = parser.parse_args()
    if args.keep and args.keep.exists():
        parser.error(f"--keep {args.keep}: already exists")
    with tempfile.TemporaryDirectory(prefix="bench-cycle-") as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        cycles = args.rounds + 1
        dirs = generate_cycles(root, cycles, args.runs_per_minute, args.seed)
        print(
            f"generated {cycles} x 5 min of OTLP dumps at {args.runs_per_minute:,} runs/min "
            f"in {time.monotonic() - t0:.1f}s",
            flush=True,
        )
        histories = []
        # Kept homes are made in place: a snapshot's views name their files by absolute path.
        homes = args.keep.resolve() if args.keep else root
        for days in args.days:
            h = History(homes, days, args.history_runs_per_minute)
            print(
                f"{days:>2} day(s) of history: {h.spans:,} spans, {h.runs:,} runs at "
                f"{args.history_runs_per_minute:,} runs/min | synthesized {h.synth_s:.1f}s, "
                f"full refresh {h.full_s:.1f}s",
                flush=True,
            )
            histories.append(h)
        # Cycle 0 is the warm-up (dbt parsed, the previous cycle's spans built); then the
        # histories take turns.
        for k, dumps in enumerate(dirs):
            for h in histories:
                h.cycle(dumps, T0 + k * CYCLE, record=k > 0, compare=args.compare_as_of)
        print(
            f"cycle: ingest 5 min of dumps ({statistics.median(histories[0].spans_landed):,.0f}"
            f" spans at {args.runs_per_minute:,} runs/min), incremental build, evaluate "
            f"{histories[0].signals} signals; median of {args.rounds} rounds (seconds)"
        )
        for h in histories:
            stages = "  ".join(f"{s} {h.median(s):6.2f}" for s in STAGES)
            print(f"{h.days:>2} day(s): {stages}  total {h.total():6.2f}  (target <= 30)")
        for h in histories:
            landed, rebuilt = (statistics.median(r[i] for r in h.runs_rebuilt) for i in (0, 1))
            print(
                f"{h.days:>2} day(s): runs recomputed per build {rebuilt:,.0f} for "
                f"{landed:,.0f} runs landed (median)"
            )
        for h in histories:
            seconds = {m: statistics.median(b[m] for b in h.models) for m in h.models[0]}
            top = sorted(seconds.items(), key=lambda kv: -kv[1])[: args.models]
            listed = ", ".join(f"{m} {s:.2f}" for m, s in top)
            print(f"{h.days:>2} day(s), slowest models (s, median, overlapping): {listed}")
            if args.compare_as_of:
                ratios = [row["evaluate"] / row["plain"] for row in h.rows]
                print(
                    f"{h.days:>2} day(s): evaluate as of $eval_at {h.median('evaluate'):.2f}s vs "
                    f"plain {h.median('plain'):.2f}s, ratio {statistics.median(ratios):.2f}"
                    f" (median of per-cycle ratios)"
                )
        shortest, longest = histories[0], histories[-1]
        # The generator's runs/min is nominal (it follows a daily curve, runs have ~12
        # spans) and synthetic runs are smaller: compare span rates instead.
        history_per_day = shortest.spans / shortest.days
        current_per_day = statistics.median(shortest.spans_landed) * 288
        print(
            f"cycle ratio {longest.days}d / {shortest.days}d = "
            f"{longest.total() / shortest.total():.2f} (target <= 1.3); history: "
            f"{history_per_day:,.0f} spans/day synthesized at {args.history_runs_per_minute:,} "
            f"runs/min = {history_per_day / current_per_day:.0%} of the current load's "
            f"{current_per_day:,.0f} spans/day"
        )
        if args.keep:
            print(f"kept: {', '.join(str(h.home.root) for h in histories)}")


if __name__ == "__main__":
    main()
