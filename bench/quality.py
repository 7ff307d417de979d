"""Detection bench for quality_drop: delay after onset and after enough labels, false alerts.

Builds generated fleets with labels (``generate --labels``) through the real pipeline
(generate -> ingest -> label, each label file landed when its minute ended -> dbt build ->
snapshot) and backtests quality_drop through the real engine (every 5 minutes, with its
`for` and `keep_firing_for`). Prints:

- per incident fleet (a quality_drop incident: only the answers of one agent's prompt
  variant get worse; no error, cost or tool change): the delay from the incident's onset
  to the first *firing* instance naming its agent and prompt variant, and from the moment
  enough labels had landed (the signal's min_labels judge labels of incident runs) to it;
- false alerts: distinct instances that reached `firing` on healthy fleets (labels, no
  incident; several seeds and two traffic levels), per healthy fleet-hour after the
  baseline warm-up, plus firing instances of the incident fleets that name another group.

    .venv/bin/python bench/quality.py              # 3 incident fleets, 3 healthy fleets
    .venv/bin/python bench/quality.py --quick      # 1 + 1, for a smoke run
    .venv/bin/python bench/quality.py --work DIR   # keep (and reuse) the built fleets
    .venv/bin/python bench/quality.py --bad-factor 5   # pin the incident's effect (x3-6 drawn)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402

from fleetsignals.alerts.backtest import run_backtest  # noqa: E402
from fleetsignals.config import load_config  # noqa: E402
from fleetsignals.generate import generate_fleet  # noqa: E402
from fleetsignals.generate.labels import arrival  # noqa: E402
from fleetsignals.home import Home  # noqa: E402
from fleetsignals.ingest.land import land_paths  # noqa: E402
from fleetsignals.warehouse import build  # noqa: E402
from tests.fixtures.labelreplay import land_labels_as_arrived  # noqa: E402

START = datetime(2026, 11, 1)
ONSET = timedelta(hours=5)
WARM_UP = timedelta(hours=1)  # the signal needs min_baseline_labels before it can say anything


def build_fleet(root: Path, hours: float, rpm: float, seed: int, incidents: list) -> Home:
    home = Home(root / "home")
    if (home.root / "snapshots" / "CURRENT").is_file():
        return home
    generate_fleet(root / "gen", start=START, hours=hours, runs_per_minute=rpm, seed=seed,
                   incidents=incidents, labels=True)  # fmt: skip
    config = load_config(None)
    land_paths([root / "gen" / "dumps"], home.ensure(), config)
    land_labels_as_arrived(root / "gen" / "labels", home, config)
    build(home, config)
    return home


def firing(home: Home, start: datetime, end: datetime) -> list[dict]:
    result = run_backtest(home, load_config(None), start, end, timedelta(minutes=5),
                          signals=["quality_drop"])  # fmt: skip
    assert not result.problems, result.problems
    return [r for r in result.records if r["state"] == "firing"]


def enough_labels_at(root: Path, incident: dict, need: int) -> datetime | None:
    """When the `need`-th judge label of an incident run had landed."""
    runs = set(incident["run_ids"])
    arrivals = []
    for path in sorted((root / "gen" / "labels").glob("labels-*.jsonl")):
        frame = pl.read_ndjson(path)
        hits = frame.filter(pl.col("run_id").is_in(runs) & (pl.col("name") == "helpfulness"))
        arrivals += [arrival(path)] * hits.height
    return arrivals[need - 1] if len(arrivals) >= need else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--bad-factor", type=float, help="pin the incident's bad_factor")
    parser.add_argument("--no-healthy", action="store_true", help="incident fleets only")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-quality-"))
    import os

    os.chdir(REPO)  # the shipped signals and the dbt project
    incident_seeds = [3] if args.quick else [3, 5, 8]
    healthy = [(11, 20.0)] if args.quick else [(11, 20.0), (12, 12.0), (13, 20.0)]
    healthy = [] if args.no_healthy else healthy
    pinned = {} if args.bad_factor is None else {"bad_factor": args.bad_factor}
    hours = 6.5
    print(f"work dir: {work}")
    delays, after_enough, misnamed = [], [], 0
    for seed in incident_seeds:
        started = time.perf_counter()
        root = work / (f"incident-{seed}" + (f"-x{args.bad_factor:g}" if pinned else ""))
        incident = [("quality_drop", ONSET, timedelta(minutes=60), pinned)]
        home = build_fleet(root, hours, 20.0, seed, incident)
        import orjson

        truth = orjson.loads((root / "gen" / "ground_truth.json").read_bytes())
        incident = truth["incidents"][0]
        onset = START + ONSET
        fired = firing(home, START + WARM_UP, START + timedelta(hours=hours))
        hits = [r for r in fired
                if all(r["labels"].get(k) == v for k, v in incident["labels"].items())]  # fmt: skip
        misnamed += len({tuple(sorted(r["labels"].items())) for r in fired if r not in hits})
        enough = enough_labels_at(root, incident, 30)
        if hits:
            first = hits[0]["eval_at"]
            delays.append((first - onset).total_seconds() / 60)
            after_enough.append((first - enough).total_seconds() / 60 if enough else float("nan"))
            print(f"seed {seed}: {incident['labels']} x{incident['params']['bad_factor']}: "
                  f"fired {delays[-1]:.0f} min after onset, {after_enough[-1]:.0f} min after "
                  f"{30} labels of incident runs had landed ({time.perf_counter() - started:.0f}s)")  # fmt: skip
        else:
            print(f"seed {seed}: {incident['labels']}: MISSED")
    false_ids, fleet_hours = 0, 0.0
    for seed, rpm in healthy:
        root = work / f"healthy-{seed}-{int(rpm)}"
        home = build_fleet(root, 6.0, rpm, seed, [])
        fired = firing(home, START + WARM_UP, START + timedelta(hours=6))
        ids = {tuple(sorted(r["labels"].items())) for r in fired}
        false_ids += len(ids)
        fleet_hours += 6.0 - WARM_UP.total_seconds() / 3600
        print(f"healthy seed {seed} at {rpm:g} runs/min: {len(ids)} firing instance(s)"
              + "".join(f"\n    {dict(i)}" for i in ids))  # fmt: skip
    print()
    if delays:
        print(f"quality_drop detection delay after onset: min {min(delays):.0f}, max "
              f"{max(delays):.0f} min over {len(delays)}/{len(incident_seeds)} incidents; after "
              f"enough labels: min {min(after_enough):.0f}, max {max(after_enough):.0f} min")  # fmt: skip
    print(f"false quality_drop alerts: {false_ids} in {fleet_hours:g} healthy fleet-hours; "
          f"{misnamed} misnamed firing instance(s) in the incident fleets")  # fmt: skip


if __name__ == "__main__":
    main()
