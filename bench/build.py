"""Build cost vs history: incremental build after 5 more minutes of data, 1 vs 7 days.

    .venv/bin/python bench/build.py [--days 1 7] [--runs-per-minute 10] [--repeat 3]

For each history length: write a synthetic lake (tests.fixtures.synthetic:
DuckDB SQL writing lake Parquet directly), run a full refresh, then land five more
minutes of spans and build incrementally, several times, the histories taking turns;
print the median incremental build (dbt + publish) and the ratio between the longest
and the shortest history (target <= 1.3: cost follows new data, not history). Everything runs in one
process, as the scheduler does (dbt's import and parse are paid once per home).
Figures are wall-clock on a shared machine: compare the ratio, measured in one run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleetsignals.config import load_config  # noqa: E402
from fleetsignals.home import Home  # noqa: E402
from fleetsignals.warehouse import build  # noqa: E402
from tests.fixtures.synthetic import write_synthetic_lake  # noqa: E402

START = datetime(2026, 11, 1)
STEP = timedelta(minutes=5)


class History:
    """One data home with ``days`` of synthetic history, built once."""

    def __init__(self, root: Path, days: int, rpm: int) -> None:
        self.days = days
        self.home = Home(root / f"days{days}").ensure()
        self.config = load_config(None)
        # Runs keep starting after the history, for the increments.
        self.lake = dict(start=START, hours=days * 24 + 2, runs_per_minute=rpm, seed=days)
        self.cursor = START + timedelta(days=days)
        t0 = time.monotonic()
        self.spans = write_synthetic_lake(
            self.home.lake, **self.lake, until=self.cursor, landed_at=self.cursor
        )
        self.synth_s = time.monotonic() - t0
        full = build(self.home, self.config, full_refresh=True, run_tests=False)
        self.runs, self.full_s = full.runs, full.seconds
        self.full_tests_s = build(self.home, self.config, full_refresh=True).seconds
        self.incremental: list[tuple[float, float, float]] = []

    def step(self, record: bool) -> None:
        """Land the next five minutes of spans and build incrementally."""
        until = self.cursor + STEP
        write_synthetic_lake(
            self.home.lake, **self.lake, since=self.cursor, until=until, landed_at=until
        )
        self.cursor = until
        summary = build(self.home, self.config)
        if record:
            self.incremental.append((summary.seconds, summary.dbt_seconds, summary.publish_seconds))

    def cli_seconds(self) -> float:
        """The same incremental build in a fresh process: dbt's import and parse included."""
        exe = Path(sys.executable).with_name("fleetsignals")
        t0 = time.monotonic()
        subprocess.run(
            [str(exe), "--home", str(self.home.root), "build"], check=True, capture_output=True
        )
        return time.monotonic() - t0

    def median(self, index: int) -> float:
        return statistics.median(row[index] for row in self.incremental)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[1, 7])
    parser.add_argument("--runs-per-minute", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        histories = [History(Path(tmp), days, args.runs_per_minute) for days in args.days]
        # Interleaved rounds, so a burst of load on the shared machine hits every
        # history alike; the first round is a warm-up after the full refresh.
        for round_no in range(args.repeat + 1):
            for history in histories:
                history.step(record=round_no > 0)
        for h in histories:
            print(
                f"{h.days:>2} day(s): {h.spans:>9,} spans, {h.runs:>7,} runs | "
                f"synthesized in {h.synth_s:.1f}s | full refresh {h.full_s:.1f}s "
                f"({h.full_tests_s:.1f}s with dbt tests) | incremental +5 min: "
                f"{h.median(0):.2f}s (dbt {h.median(1):.2f}s, publish {h.median(2):.2f}s), "
                f"median of {args.repeat} | as a fresh CLI process: {h.cli_seconds():.1f}s",
                flush=True,
            )
        shortest, longest = histories[0], histories[-1]
        ratio = longest.median(0) / shortest.median(0)
        print(
            f"incremental build ratio {longest.days}d / {shortest.days}d = {ratio:.2f} "
            f"(target <= 1.3); full refresh {longest.days}d: {longest.full_s:.1f}s"
        )


if __name__ == "__main__":
    main()
