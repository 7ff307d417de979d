"""Build cost vs history: incremental build after 5 more minutes of data, 1 vs 7 days.

    .venv/bin/python bench/build.py [--days 1 7] [--runs-per-minute 10] [--repeat 3]

For each history length: write a synthetic lake (fleetsignals.warehouse.synthetic:
DuckDB SQL writing lake Parquet directly), run a full refresh, then land five more
minutes of spans and build incrementally, several times; print the median
incremental build (dbt + publish) and the ratio between the longest and the shortest
history (target <= 1.3: cost follows new data, not history). Everything runs in one
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
from fleetsignals.warehouse.synthetic import write_synthetic_lake  # noqa: E402

START = datetime(2026, 11, 1)
STEP = timedelta(minutes=5)


def bench_history(root: Path, days: int, rpm: int, repeat: int) -> dict[str, float]:
    home = Home(root / f"days{days}").ensure()
    config = load_config(None)
    hours = days * 24 + 2  # runs keep starting after the history, for the increments
    history_end = START + timedelta(days=days)
    lake = dict(start=START, hours=hours, runs_per_minute=rpm, seed=days)
    t0 = time.monotonic()
    spans = write_synthetic_lake(home.lake, **lake, until=history_end, landed_at=history_end)
    synth_s = time.monotonic() - t0
    full = build(home, config, full_refresh=True, run_tests=False)
    full_tests = build(home, config, full_refresh=True)
    cursor = history_end
    incremental = []
    dbt_s = []
    publish_s = []
    for step in range(repeat + 1):
        write_synthetic_lake(
            home.lake, **lake, since=cursor, until=cursor + STEP, landed_at=cursor + STEP
        )
        cursor += STEP
        summary = build(home, config)
        if step == 0:
            continue  # warm-up: the first incremental build after a full one
        incremental.append(summary.seconds)
        dbt_s.append(summary.dbt_seconds)
        publish_s.append(summary.publish_seconds)
    # dbt's start-up in a fresh process (import + parse), as a cron-driven CLI pays it.
    exe = Path(sys.executable).with_name("fleetsignals")
    t0 = time.monotonic()
    subprocess.run([str(exe), "--home", str(home.root), "build"], check=True, capture_output=True)
    cli_s = time.monotonic() - t0
    return {
        "cli_s": cli_s,
        "days": days,
        "spans": spans,
        "runs": full.runs,
        "synth_s": synth_s,
        "full_s": full.seconds,
        "full_tests_s": full_tests.seconds,
        "incremental_s": statistics.median(incremental),
        "dbt_s": statistics.median(dbt_s),
        "publish_s": statistics.median(publish_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[1, 7])
    parser.add_argument("--runs-per-minute", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        for days in args.days:
            result = bench_history(Path(tmp), days, args.runs_per_minute, args.repeat)
            results.append(result)
            print(
                f"{days:>2} day(s): {result['spans']:>9,} spans, {result['runs']:>7,} runs | "
                f"synthesized in {result['synth_s']:.1f}s | full refresh {result['full_s']:.1f}s "
                f"({result['full_tests_s']:.1f}s with dbt tests) | incremental +5 min: "
                f"{result['incremental_s']:.2f}s (dbt {result['dbt_s']:.2f}s, "
                f"publish {result['publish_s']:.2f}s), median of {args.repeat} | "
                f"same build as a fresh CLI process: {result['cli_s']:.1f}s",
                flush=True,
            )
    shortest, longest = results[0], results[-1]
    ratio = longest["incremental_s"] / shortest["incremental_s"]
    print(
        f"incremental build ratio {longest['days']}d / {shortest['days']}d = {ratio:.2f} "
        f"(target <= 1.3); full refresh {longest['days']}d: {longest['full_s']:.1f}s"
    )


if __name__ == "__main__":
    main()
