"""Detection bench for the shipped signals: delay per incident, false alerts per healthy hour.

Builds generated fleets through the real pipeline (generate -> ingest -> dbt build ->
snapshot), backtests the shipped signals through the real engine (every 5 minutes, with
their `for` and `keep_firing_for`), and prints per signal:

- detection delay per incident: first *firing* instance whose labels match the incident's
  ground-truth labels, minus the incident's start (a miss prints "missed");
- false alerts: instances that reached `firing` and do not belong to their own incident,
  per healthy fleet-hour, over healthy fleets of several seeds and two traffic levels,
  and outside the incident windows of the incident fleet;
- backtest wall time of all shipped signals over the ~17 h / ~25k-run incident fleet
  (target <= 60 s), with the per-signal query seconds;
- cost jumps in one tenant (400 Zipf-sized tenants; x1.6 and x2) and in one cohort (x2)
  per seed: the delay on the group itself, alerts on coarser groups that contain it;
- quality_drop (part `quality`, bench/quality.py): per incident seed the onset, when enough
  labels had landed (stated statistically there), first pending and firing, the delays, and
  false quality_drop alerts per healthy fleet-hour.

Minute dump files are concatenated per hour before ingest (the Collector's file exporter
rotates at any size; ingest costs a fixed ~0.3 s per file, which is not what this measures).

    .venv/bin/python bench/detection.py                 # full: ~17 h incident fleet + 6 healthy
    .venv/bin/python bench/detection.py --quick         # smaller fleets, a few minutes
    .venv/bin/python bench/detection.py --work DIR      # keep (and reuse) the built fleets
    .venv/bin/python bench/detection.py --work DIR --parts tenants cohorts healthy \
        --signals p95_cost_jump                         # one signal, some parts

The signals evaluated are ./signals when the working directory has them (as for
`fleetsignals`): run it from another checkout to measure that checkout's signals on the
same fleets.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402

from fleetsignals.alerts.backtest import run_backtest  # noqa: E402
from fleetsignals.alerts.definitions import load_signals  # noqa: E402
from fleetsignals.alerts.evaluation import evaluate_signal  # noqa: E402
from fleetsignals.config import load_config  # noqa: E402
from fleetsignals.generate import generate_fleet  # noqa: E402
from fleetsignals.home import Home  # noqa: E402
from fleetsignals.ingest.land import land_paths  # noqa: E402
from fleetsignals.snapshot import connect_snapshot  # noqa: E402
from fleetsignals.timeutil import parse_time  # noqa: E402
from fleetsignals.warehouse import build  # noqa: E402

SHIPPED = ("correlated_failure", "depth_tail", "p95_cost_jump", "stuck_agent")
# The signals backtested (--signals narrows it, to compare one signal's versions quickly).
SIGNALS: list[str] = list(SHIPPED)
START = datetime(2026, 11, 1)


def build_fleet(
    root: Path,
    hours: float,
    rpm: float,
    seed: int,
    incidents: list | None,
    tenants: int | None = None,
) -> tuple[Home, dict]:
    """Generate, ingest and build a fleet under ROOT (reused when already built)."""
    home = Home(root / "home")
    truth_path = root / "gen" / "ground_truth.json"
    if not (home.root / "snapshots" / "CURRENT").is_file():
        generate_fleet(
            root / "gen", start=START, hours=hours, runs_per_minute=rpm, seed=seed,
            incidents=incidents, tenants=tenants,
        )  # fmt: skip
        hourly = root / "hourly"
        hourly.mkdir(parents=True, exist_ok=True)
        by_hour: dict[str, list[Path]] = defaultdict(list)
        for path in sorted((root / "gen" / "dumps").rglob("*.jsonl")):
            by_hour[path.name[:-8]].append(path)  # traces-YYYYMMDDTHHMM.jsonl -> per hour
        for hour, paths in by_hour.items():
            with open(hourly / f"{hour}.jsonl", "wb") as out:
                for path in paths:
                    out.write(path.read_bytes())
        config = load_config(None)
        home.ensure()
        land_paths([hourly], home, config, settle_seconds=0)
        build(home, config)
    return home, json.loads(truth_path.read_text())


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backtest_fleet(home: Home, start: datetime, end: datetime) -> tuple[list[dict], float, dict]:
    config = load_config(None)
    began = time.perf_counter()
    result = run_backtest(home, config, start, end, timedelta(minutes=5), SIGNALS)
    seconds = time.perf_counter() - began
    if result.problems:
        raise SystemExit("\n".join(str(p) for p in result.problems))
    return result.records, seconds, result.seconds


# The tables each shipped signal reads, once per evaluation: the floor the statistics add to.
READS = ["fct_runs"] * 4 + ["fct_tool_calls"] * 2 + ["fct_llm_calls"]


def read_floor(home: Home, start: datetime, end: datetime) -> float:
    """Seconds to read, at every step, what the signals read (a count per table, no stats)."""
    began = time.perf_counter()
    with connect_snapshot(home) as con:
        at = start
        while at <= end:
            for table in READS:
                con.execute(f"select count(*) from {table} where ended_at <= ?", [at]).fetchall()
            at += timedelta(minutes=5)
    return time.perf_counter() - began


# Raw rows per evaluation with the significance test loosened: what the test buys.
# Sampled every 15 minutes (three variants of three signals cost nine evaluations a step).
RAW_STEP = timedelta(minutes=15)
LOOSENED = {"shipped": {}, "alpha=0.05": {"alpha": 0.05}, "no test (alpha=1)": {"alpha": 1.0}}


def signal_dir() -> Path:
    """The signals the backtest evaluates: ./signals when there is one (as `fleetsignals`
    finds them), else this checkout's."""
    return Path("signals") if Path("signals").is_dir() else REPO / "signals"


def raw_rows(home: Home, start: datetime, end: datetime) -> dict[tuple[str, str], int]:
    """(signal, variant) -> result rows summed over evaluations every RAW_STEP."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    with connect_snapshot(home) as con:
        loaded, problems = load_signals([signal_dir()], con, SIGNALS)
        assert not problems, problems
        for signal in loaded:
            if "alpha" not in signal.params:
                continue
            for variant, override in LOOSENED.items():
                changed = dataclasses.replace(signal, params={**signal.params, **override})
                at = start
                while at <= end:
                    counts[signal.name, variant] += len(evaluate_signal(con, changed, at).samples)
                    at += RAW_STEP
    return counts


def firing_instances(
    records: list[dict], states: tuple[str, ...] = ("firing",)
) -> dict[tuple, datetime]:
    """(signal, labels) -> first time it was in one of STATES (firing; with "pending" too,
    the first evaluation that returned its row, before `for`)."""
    first: dict[tuple, datetime] = {}
    for rec in records:
        if rec["state"] in states:
            key = (rec["signal"], tuple(sorted(rec["labels"].items())))
            first.setdefault(key, rec["eval_at"])
    return first


def matches(incident: dict, labels: dict[str, str]) -> bool:
    """The incident's ground-truth labels; for a per-run alert, one of its runs and its tool
    (an in-flight run's agent_name may come from a sub-agent's span: its root is missing)."""
    if "run_id" in labels:
        return labels["run_id"] in set(incident["run_ids"]) and labels.get("tool_name") == incident[
            "labels"
        ].get("tool_name")
    return all(labels.get(k) == v for k, v in incident["labels"].items())


def own_incident(key: tuple, at: datetime, incidents: list[dict], grace: timedelta) -> bool:
    """Is a firing instance explained by an incident of its own signal (until end + grace)?"""
    signal, labels = key[0], dict(key[1])
    for inc in incidents:
        if inc["signal"] != signal:
            continue
        if parse_time(inc["start"]) <= at <= parse_time(inc["end"]) + grace and matches(
            inc, labels
        ):
            return True
    return False


def report_incident_fleet(
    work: Path, incident_hours: float, incident_rpm: float, seed: int, warm: timedelta,
    grace: timedelta,
) -> None:  # fmt: skip
    """Delays per incident, firing instances outside their incident, backtest wall time."""
    root = work / f"incidents-{incident_hours:g}h-{incident_rpm:g}rpm-s{seed}"
    t0 = time.perf_counter()
    home, truth = build_fleet(root, incident_hours, incident_rpm, seed, None)
    print(f"\nincident fleet, seed {seed}: {truth['counts']['runs']} runs, {incident_hours:g} h "
          f"(built in {time.perf_counter() - t0:.0f} s)")  # fmt: skip
    start, end = parse_time(truth["start"]), parse_time(truth["end"])
    cpu = cpu_seconds()
    records, wall, per_signal = backtest_fleet(home, start, end)
    cpu = cpu_seconds() - cpu
    floor = read_floor(home, start, end)
    steps = int((end - start) / timedelta(minutes=5)) + 1
    print(f"backtest wall time, {len(SIGNALS)} signals x {steps} steps: {wall:.1f} s "
          f"(target <= 60 s; process CPU {cpu:.1f} s on {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}); query seconds: "
          + ", ".join(f"{k} {v:.1f}" for k, v in sorted(per_signal.items())))  # fmt: skip
    print(f"  same run, reading the signals' tables at every step without statistics: "
          f"{floor:.1f} s (backtest / read floor = {wall / floor:.1f}x)")  # fmt: skip
    firing = firing_instances(records)
    print("\ndetection delay (first firing instance with the incident's labels - start):")
    for inc in truth["incidents"]:
        if inc["signal"] not in SIGNALS:
            continue
        inc_start = parse_time(inc["start"])
        hits = [
            at for (sig, labels), at in firing.items()
            if sig == inc["signal"] and at >= inc_start and matches(inc, dict(labels))
            and at <= parse_time(inc["end"]) + grace
        ]  # fmt: skip
        delay = f"{(min(hits) - inc_start).total_seconds() / 60:.0f} min" if hits else "missed"
        labels = ", ".join(f"{k}={v}" for k, v in inc["labels"].items())
        length = (parse_time(inc["end"]) - inc_start).total_seconds() / 60
        print(
            f"  {inc['signal']:<19} {inc['name']:<15} {delay:>8}  ({length:.0f} min incident; {labels})"
        )
    unexplained = defaultdict(list)
    for key, at in firing.items():
        if at >= start + warm and not own_incident(key, at, truth["incidents"], grace):
            unexplained[key[0]].append((at, dict(key[1])))
    judged = (end - start - warm).total_seconds() / 3600
    print(
        f"\nfiring instances not explained by their own incident, incident fleet ({judged:.1f} h):"
    )
    for signal in SIGNALS:
        rows = unexplained.get(signal, [])
        print(f"  {signal:<19} {len(rows)}")
        for at, labels in rows:
            near = [i["name"] for i in truth["incidents"]
                    if parse_time(i["start"]) <= at <= parse_time(i["end"]) + grace]  # fmt: skip
            print(f"      {at:%H:%M} {labels} during {near or 'healthy time'}")


# Cost jumps by factor, on fleets of several seeds: in one tenant of a busy agent (400
# Zipf-sized tenants) and in one cohort of an agent (the fleet's own tenants).
TENANTS = 400
JUMPS = {
    # kind: (incident, factors, tenants, group label)
    "tenant": ("tenant_cost_jump", (1.6, 2.0), TENANTS, "tenant_id"),
    "cohort": ("cost_inflation", (2.0,), None, "user_cohort"),
}
JUMP_AT, JUMP_FOR = timedelta(hours=4), timedelta(minutes=100)


def report_cost_jumps(kind: str, work: Path, seeds: list[int], rpm: float, hours: float) -> None:
    """Per seed and factor: the incident's delay (first firing alert naming its group),
    other alerts of the agent while it runs (its cohort, the agent overall, crossing
    groups), and false alerts per signal outside it (and its trailing hour)."""
    name, factors, tenants, label = JUMPS[kind]
    who = tenants or "the seed's own"
    print(f"\n{kind} cost jump ({name}): {who} tenants, {rpm:g} runs/min, "
          f"{hours:g} h fleets, incident at {JUMP_AT} for {JUMP_FOR}")  # fmt: skip
    warm = timedelta(hours=1)
    grace = timedelta(minutes=75)
    false_total: dict[str, int] = defaultdict(int)
    healthy_total = 0.0
    for seed in seeds:
        for factor in factors:
            root = work / f"{kind}-{hours:g}h-{rpm:g}rpm-s{seed}-x{factor:g}"
            incident = (name, JUMP_AT, JUMP_FOR, {"cost_factor": factor})
            home, truth = build_fleet(root, hours, rpm, seed, [incident], tenants)
            start, end = parse_time(truth["start"]), parse_time(truth["end"])
            records, _, _ = backtest_fleet(home, start, end)
            firing = firing_instances(records)
            rows = firing_instances(records, ("pending", "firing"))
            inc = truth["incidents"][0]
            inc_start, inc_end = parse_time(inc["start"]), parse_time(inc["end"])
            share, per_hour, first = _group_share(root, inc["labels"], inc_start)
            hits = [at for (sig, labels), at in firing.items()
                    if sig == "p95_cost_jump" and inc_start <= at <= inc_end + grace
                    and matches(inc, dict(labels))]  # fmt: skip
            # Each with its first firing, in minutes from the jump's start.
            others = sorted({
                ", ".join(f"{k}={v}" for k, v in labels)
                + f" at {(at - inc_start).total_seconds() / 60:.0f} min"
                for (sig, labels), at in firing.items()
                if sig == "p95_cost_jump" and inc_start <= at <= inc_end + grace
                and not matches(inc, dict(labels))
                and dict(labels).get("agent_name") == inc["labels"]["agent_name"]
            })  # fmt: skip
            delay = f"{(min(hits) - inc_start).total_seconds() / 60:.0f} min" if hits else "missed"
            # The first evaluation returning the group's row (before `for`), and rows
            # outside the incident that `for` kept from firing: what `for` costs and buys.
            seen = [at for (sig, labels), at in rows.items()
                    if sig == "p95_cost_jump" and inc_start <= at <= inc_end + grace
                    and matches(inc, dict(labels))]  # fmt: skip
            first_row = (
                f"{(min(seen) - inc_start).total_seconds() / 60:.0f} min" if seen else "none"
            )
            held = sum(1 for (sig, labels), at in rows.items()
                       if (sig, labels) not in firing and at >= start + warm
                       and not inc_start <= at <= inc_end + grace)  # fmt: skip
            false = defaultdict(list)
            for (sig, labels), at in firing.items():
                during = inc_start <= at <= inc_end + grace
                if at >= start + warm and not during:
                    false[sig].append((at, dict(labels)))
            healthy = (end - start - warm - (inc_end + grace - inc_start)).total_seconds() / 3600
            healthy_total += healthy
            for sig in SIGNALS:
                false_total[sig] += len(false[sig])
            print(f"  seed {seed:>3} x{factor:g}: {truth['counts']['runs']} runs; {label} "
                  f"{inc['labels'][label]} of {inc['labels']['agent_name']} "
                  f"({share:.1%} of its runs, ~{per_hour:.0f} runs/h; {first[30]} / {first[60]} "
                  f"runs ended in the jump's first 30 / 60 min): p95_cost_jump on it after "
                  f"{delay} (first row {first_row}); other alerts of the agent meanwhile: {others or 'none'}; false "
                  f"alerts in {healthy:.1f} healthy h: "
                  + ", ".join(f"{sig} {len(false[sig])}" for sig in SIGNALS)
                  + f"; rows held back by `for` outside it: {held}")  # fmt: skip
            for sig in SIGNALS:
                for at, labels in false[sig]:
                    print(f"      {sig} {at:%H:%M} {labels}")
    print(f"  false alerts per healthy hour ({healthy_total:.0f} h): "
          + ", ".join(f"{sig} {false_total[sig] / healthy_total:.3f}" for sig in SIGNALS))  # fmt: skip


def _group_share(
    root: Path, labels: dict[str, str], since: datetime
) -> tuple[float, float, dict[int, int]]:
    """The incident group's share of its agent's runs, its runs per hour, and its completed
    runs ending in the first 30 and 60 minutes after SINCE (what a window can judge), from
    the generator's truth."""
    runs = pl.read_parquet(root / "gen" / "runs.parquet").filter(
        pl.col("agent_name") == labels["agent_name"]
    )
    group = runs
    for key, value in labels.items():
        group = group.filter(pl.col(key) == value)
    span = runs["ended_at"].max() - runs["started_at"].min()
    hours = span.total_seconds() / 3600 if span else 1.0
    ended = pl.col("ended_at").dt.replace_time_zone(None)
    done = group.filter(pl.col("status").is_in(["ok", "error"]))
    first = {
        minutes: done.filter((ended >= since) & (ended < since + timedelta(minutes=minutes))).height
        for minutes in (30, 60)
    }
    return group.height / max(runs.height, 1), group.height / hours, first


PARTS = ("tenants", "cohorts", "incidents", "healthy", "quality")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller fleets")
    parser.add_argument("--work", type=Path, help="directory to keep built fleets in")
    parser.add_argument(
        "--seeds", type=int, nargs="*", default=[11, 12, 13],
        help="healthy fleets at default and 3x traffic (none: only the Zipf-tenant ones)",
    )  # fmt: skip
    parser.add_argument(
        "--zipf-seeds", type=int, nargs="*", default=[29],
        help=f"healthy fleets of {TENANTS} Zipf-sized tenants (none: skip them)",
    )  # fmt: skip
    parser.add_argument(
        "--incident-seeds", type=int, nargs="*", default=[11, 5],
        help="incident fleets (seed 5 draws the weakest cost inflation, x1.64)",
    )  # fmt: skip
    parser.add_argument(
        "--tenant-seeds", type=int, nargs="+", default=[11, 5, 3],
        help="seeds of the long-tailed tenant fleets (one per cost factor)",
    )  # fmt: skip
    parser.add_argument(
        "--cohort-seeds", type=int, nargs="+", default=[11, 5, 3],
        help="seeds of the one-cohort x2 cost jump fleets (issue 13: within 30 min)",
    )  # fmt: skip
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS),
        help="what to run (default all): tenant and cohort cost jumps, the incident fleets, "
        "the healthy fleets, quality_drop (bench/quality.py's fleets and table)",
    )  # fmt: skip
    parser.add_argument(
        "--tenants-only", action="store_true", help="only the long-tailed tenant fleets"
    )
    parser.add_argument(
        "--signals", nargs="+", choices=SHIPPED, default=list(SHIPPED),
        help="backtest only these signals (compare one signal's versions quickly)",
    )  # fmt: skip
    args = parser.parse_args()
    SIGNALS[:] = args.signals
    parts = ["tenants"] if args.tenants_only else args.parts
    work = args.work or Path(tempfile.mkdtemp(prefix="fleetsignals-detection-"))
    incident_hours, incident_rpm = (10.0, 15.0) if args.quick else (17.0, 25.0)
    incident_seeds = args.incident_seeds[:1] if args.quick else args.incident_seeds
    # (runs per minute, label, hours, seeds, tenants): the default traffic, a 3x busier
    # fleet, and a long tail of Zipf-sized tenants.
    shapes = [
        (15.0, "default traffic", 6.0 if args.quick else 10.0, args.seeds, None),
        (45.0, "3x traffic", 4.0 if args.quick else 6.0, args.seeds[:2], None),
        (40.0, f"{TENANTS} tenants", 4.0 if args.quick else 7.0, args.zipf_seeds, TENANTS),
    ]
    # Signals are judged after a warm-up: the longest baseline needs history to exist.
    warm = timedelta(hours=1)
    grace = timedelta(minutes=75)  # windows trail an incident's end by up to an hour

    print(f"fleets under {work}")
    if "tenants" in parts:
        report_cost_jumps("tenant", work, args.tenant_seeds, 20.0 if args.quick else 40.0, 7.0)
    if "cohorts" in parts:
        report_cost_jumps("cohort", work, args.cohort_seeds, 25.0, 7.0)
    if "incidents" in parts:
        for seed in incident_seeds:
            report_incident_fleet(work, incident_hours, incident_rpm, seed, warm, grace)
    if "healthy" in parts:
        report_healthy_fleets(work, shapes, warm)
    if "quality" in parts:
        from quality import run as report_quality  # bench/quality.py, next to this file

        print("\nquality_drop (fleets with quality labels; bench/quality.py):")
        seeds = (3, 21) if args.quick else (3, 5, 8, 21, 22, 23)
        report_quality(
            work / "quality", list(seeds), [11] if args.quick else [11, 12, 13, 31, 32], None
        )


def report_healthy_fleets(work: Path, shapes: list, warm: timedelta) -> None:
    """False alerts per healthy fleet-hour, and result rows before `for` per test variant."""
    print(f"\nfalse alerts on healthy fleets (judged after {warm}):")
    totals: dict[str, int] = defaultdict(int)
    raw_totals: dict[tuple[str, str], int] = defaultdict(int)
    healthy_hours_total = 0.0
    evaluations = 0
    for rpm, what, healthy_hours, seeds, tenants in shapes:
        for seed in seeds:
            suffix = f"-t{tenants}" if tenants else ""
            root = work / f"healthy-{healthy_hours:g}h-{rpm:g}rpm-s{seed}{suffix}"
            home, truth = build_fleet(root, healthy_hours, rpm, seed, [], tenants)
            start, end = parse_time(truth["start"]), parse_time(truth["end"])
            records, wall, _ = backtest_fleet(home, start, end)
            firing = firing_instances(records)
            hours = (end - start - warm).total_seconds() / 3600
            healthy_hours_total += hours
            counts = defaultdict(int)
            for (signal, labels), at in firing.items():
                if at >= start + warm:
                    counts[signal] += 1
                    totals[signal] += 1
                    print(f"      seed {seed} {what}: {signal} {at:%H:%M} {dict(labels)}")
            print(f"  seed {seed:>3}, {what:<15} {truth['counts']['runs']:>6} runs: "
                  + ", ".join(f"{s} {counts[s]}" for s in SIGNALS))  # fmt: skip
            for key, value in raw_rows(home, start + warm, end).items():
                raw_totals[key] += value
            evaluations += int((end - start - warm) / RAW_STEP) + 1
    print(f"\nfalse alerts per healthy hour ({healthy_hours_total:.0f} healthy fleet-hours):")
    for signal in SIGNALS:
        print(
            f"  {signal:<19} {totals[signal] / healthy_hours_total:.3f}  ({totals[signal]} alerts)"
        )
    print(
        f"\nresult rows of healthy evaluations, before `for` ({evaluations} evaluations "
        "sampled every 15 min), as shipped and with the significance test loosened:"
    )
    for signal in SIGNALS:
        cells = [
            f"{variant} {raw_totals[signal, variant]}"
            for variant in LOOSENED
            if (signal, variant) in raw_totals
        ]
        if cells:
            print(f"  {signal:<19} rows: " + ", ".join(cells))


if __name__ == "__main__":
    main()
