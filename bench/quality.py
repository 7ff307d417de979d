"""Detection bench for quality_drop: delay after onset and after enough labels, false alerts.

Builds generated fleets with labels (``generate --labels``) through the real pipeline
(generate -> ingest -> label, each label file landed when its minute ended -> dbt build ->
snapshot) and backtests quality_drop through the real engine (every 5 minutes, with its
`for` and `keep_firing_for`). Prints:

- per incident fleet (a quality_drop incident: only the answers of one agent's prompt
  variant get worse; no error, cost or tool change), one table row: the group's bad share
  before onset (p0) and in its incident labels (p1), when *enough labels* had landed, the
  first pending and first *firing* instance naming its agent and prompt variant, and the
  delays after onset and after enough labels. Enough labels: the judge labels of incident
  runs at which a one-sided exact binomial test of p0 at the signal's alpha / m has 50 %
  power for p1, m being the groups the signal could test (the agent and agent x each value
  along params.dimensions with min_baseline_labels baseline labels) times its windows
  (Bonferroni); also with m = 1. A fleet whose incident never produced enough labels is
  reported as such, not as a miss;
- false alerts: distinct instances that reached `firing` on healthy fleets (labels, no
  incident; several seeds and two traffic levels), per healthy fleet-hour after the
  baseline warm-up, plus firing instances of the incident fleets that name another group.

    .venv/bin/python bench/quality.py              # 6 incident fleets, 5 healthy fleets
    .venv/bin/python bench/quality.py --quick      # 1 + 1, for a smoke run
    .venv/bin/python bench/quality.py --work DIR   # keep (and reuse) the built fleets
    .venv/bin/python bench/quality.py --bad-factor 5   # pin the incident's effect (x3-6 drawn)
    .venv/bin/python bench/quality.py --incident-seeds 21 22 23 --no-healthy   # unseen seeds
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import orjson  # noqa: E402
import polars as pl  # noqa: E402
import yaml  # noqa: E402

from fleetsignals.alerts.backtest import run_backtest  # noqa: E402
from fleetsignals.config import load_config  # noqa: E402
from fleetsignals.generate import generate_fleet  # noqa: E402
from fleetsignals.generate.labels import arrival  # noqa: E402
from fleetsignals.home import Home  # noqa: E402
from fleetsignals.ingest.land import land_paths  # noqa: E402
from fleetsignals.warehouse import build  # noqa: E402
from tests.fixtures.labelreplay import land_labels_as_arrived  # noqa: E402
from tests.fixtures.warehouses import query  # noqa: E402

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


def states(home: Home, start: datetime, end: datetime) -> list[dict]:
    """The pending and firing quality_drop instances at each 5-minute step, in time order."""
    result = run_backtest(home, load_config(None), start, end, timedelta(minutes=5),
                          signals=["quality_drop"])  # fmt: skip
    assert not result.problems, result.problems
    return sorted(result.records, key=lambda r: r["eval_at"])


def _log_binom_tail(n: int, k: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    terms = [
        math.lgamma(n + 1) - math.lgamma(x + 1) - math.lgamma(n - x + 1)
        + x * math.log(p) + (n - x) * math.log1p(-p)
        for x in range(k, n + 1)
    ]  # fmt: skip
    top = max(terms)
    return math.exp(top) * sum(math.exp(t - top) for t in terms)


def labels_needed(p0: float, p1: float, level: float, power: float = 0.5) -> int | None:
    """The fewest labels at which a one-sided exact binomial test of "bad share = p0" at `level`
    rejects with probability >= `power` when the true bad share is p1 (None past 5000)."""
    for n in range(1, 5001):
        k = next((k for k in range(n + 2) if _log_binom_tail(n, k, p0) <= level), n + 1)
        if k <= n and _log_binom_tail(n, k, p1) >= power:
            return n
    return None


def label_arrivals(root: Path, runs: set[str]) -> list[datetime]:
    """When each judge label of the given runs landed, in order."""
    arrivals = []
    for path in sorted((root / "gen" / "labels").glob("labels-*.jsonl")):
        frame = pl.read_ndjson(path)
        hits = frame.filter(pl.col("run_id").is_in(runs) & (pl.col("name") == "helpfulness"))
        arrivals += [arrival(path)] * hits.height
    return arrivals


def enough_labels(home: Home, root: Path, incident: dict, params: dict) -> dict:
    """'Enough labels' for one incident, stated statistically: the judge labels of incident runs
    at which a fixed-sample one-sided binomial test of the incident group's pre-onset bad share
    p0, at the signal's alpha / m, has 50 % power for the bad share its incident labels show
    (p1). m: Bonferroni over the groups the signal could test (the agent, and agent x each value
    along params.dimensions, with min_baseline_labels judge labels in the baseline before
    onset) times the windows; with m = 1 as well (a test told where to look)."""
    onset, group = START + ONSET, incident["labels"]
    base_from = onset - timedelta(minutes=params["baseline_minutes"])
    judged = "name = 'helpfulness' and source like 'judge:%' and superseded_at is null"
    (p0, n0), = query(home, f"select avg(is_bad::int), count(*) from fct_labels where {judged} "
                      "and agent_name = ? and prompt_variant = ? and landed_at > ? "
                      "and landed_at <= ?",
                      [group["agent_name"], group["prompt_variant"], base_from, onset])  # fmt: skip
    (p1,) = query(home, f"select avg(is_bad::int) from fct_labels where {judged} "
                  "and run_id in (select unnest(?))", [incident["run_ids"]])[0]  # fmt: skip
    dims = params["dimensions"]
    names = ", ".join(["'agent'"] + [f"'{d}'" for d in dims])
    values = ", ".join(["''"] + list(dims))
    (groups,) = query(home, f"select count(*) from (select agent_name, dim, value from (select "
                      f"agent_name, unnest([{names}]) as dim, unnest([{values}]) as value "
                      f"from fct_labels where {judged} and landed_at > ? and landed_at <= ?) "
                      "where value is not null group by all having count(*) >= ?)",
                      [base_from, onset, params["min_baseline_labels"]])[0]  # fmt: skip
    m = groups * len(params["window_minutes"])
    arrivals = label_arrivals(root, set(incident["run_ids"]))
    out = {"p0": p0, "n0": n0, "p1": p1, "m": m}
    for key, level in (("enough", params["alpha"] / m), ("enough_m1", params["alpha"])):
        need = labels_needed(max(p0, 1e-3), p1, level) if p1 > p0 else None
        out[key + "_n"] = need
        out[key] = arrivals[need - 1] if need and len(arrivals) >= need else None
    return out


def minutes(later: datetime | None, earlier: datetime | None) -> str:
    return (
        "-" if later is None or earlier is None else f"{(later - earlier).total_seconds() / 60:.0f}"
    )


def clock(t: datetime | None) -> str:
    return "-" if t is None else t.strftime("%H:%M")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 incident + 1 healthy fleet")
    parser.add_argument("--work", type=Path, help="keep (and reuse) the built fleets here")
    parser.add_argument("--bad-factor", type=float, help="pin the incident's bad_factor")
    parser.add_argument(
        "--incident-seeds",
        type=int,
        nargs="+",
        default=[3, 5, 8, 21, 22, 23],
        help="incident fleet seeds (3 5 8 were used while tuning; 21-23 were not)",
    )
    parser.add_argument("--healthy-seeds", type=int, nargs="+", default=[11, 12, 13, 31, 32],
                        help="healthy fleet seeds (12 at 12 runs/min, the others at 20)")  # fmt: skip
    parser.add_argument("--no-healthy", action="store_true", help="incident fleets only")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-quality-"))
    incident_seeds = args.incident_seeds[:1] if args.quick else args.incident_seeds
    healthy = [] if args.no_healthy else args.healthy_seeds[: 1 if args.quick else None]
    run(work, incident_seeds, healthy, args.bad_factor)


def run(
    work: Path, incident_seeds: list[int], healthy: list[int], bad_factor: float | None
) -> None:
    """Print the per-seed detection table and the false alerts on healthy fleets."""
    os.chdir(REPO)  # the shipped signals and the dbt project
    params = yaml.safe_load((REPO / "signals" / "_signals.yml").read_text())["quality_drop"]
    params = params["params"]
    pinned = {} if bad_factor is None else {"bad_factor": bad_factor}
    hours = 6.5
    onset = START + ONSET
    print(f"work dir: {work}")
    print("enough = the judge labels of incident runs at which a one-sided binomial test of the "
          "group's pre-onset bad share p0 at alpha/m has 50 % power for the incident's bad "
          "share p1 (m: testable groups x windows); enough(m=1): at alpha")  # fmt: skip
    print("| seed | group | p0 -> p1 (baseline labels) | m | enough at (labels) | enough m=1 at "
          "(labels) | first pending | first firing | after onset | after enough | after "
          "enough m=1 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    misnamed, met, testable = 0, 0, 0
    for seed in incident_seeds:
        root = work / (f"incident-{seed}" + (f"-x{bad_factor:g}" if pinned else ""))
        home = build_fleet(root, hours, 20.0, seed,
                           [("quality_drop", ONSET, timedelta(minutes=60), pinned)])  # fmt: skip
        truth = orjson.loads((root / "gen" / "ground_truth.json").read_bytes())
        incident = truth["incidents"][0]
        active = states(home, START + WARM_UP, START + timedelta(hours=hours))
        hits = [r for r in active
                if all(r["labels"].get(k) == v for k, v in incident["labels"].items())]  # fmt: skip
        fired = [r for r in active if r["state"] == "firing"]
        misnamed += len({tuple(sorted(r["labels"].items())) for r in fired
                         if r not in hits})  # fmt: skip
        pending = next((r["eval_at"] for r in hits), None)
        firing = next((r["eval_at"] for r in hits if r["state"] == "firing"), None)
        e = enough_labels(home, root, incident, params)
        after = minutes(firing, e["enough"])
        testable += e["enough"] is not None
        met += firing is not None and e["enough"] is not None and float(after) <= 60
        print(f"| {seed} | {incident['labels']['agent_name']} {incident['labels']['prompt_variant']}"
              f" | {e['p0']:.1%} -> {e['p1']:.1%} ({e['n0']}) | {e['m']} | {clock(e['enough'])} "
              f"({e['enough_n'] or '>5000'}) | {clock(e['enough_m1'])} ({e['enough_m1_n']}) | "
              f"{clock(pending)} | {clock(firing)} | {minutes(firing, onset)} | {after} | "
              f"{minutes(firing, e['enough_m1'])} |", flush=True)  # fmt: skip
    print(f"onset {clock(onset)}; fired within 60 min of enough labels: {met} of the "
          f"{testable} fleets where enough labels landed ({len(incident_seeds) - testable} never "
          f"had enough); {misnamed} misnamed firing instance(s) in the incident fleets")  # fmt: skip
    false_ids, fleet_hours = 0, 0.0
    for seed in healthy:
        rpm = 12.0 if seed == 12 else 20.0
        root = work / f"healthy-{seed}-{int(rpm)}"
        home = build_fleet(root, 6.0, rpm, seed, [])
        fired = [r for r in states(home, START + WARM_UP, START + timedelta(hours=6))
                 if r["state"] == "firing"]  # fmt: skip
        ids = {tuple(sorted(r["labels"].items())) for r in fired}
        false_ids += len(ids)
        fleet_hours += 6.0 - WARM_UP.total_seconds() / 3600
        print(f"healthy seed {seed} at {rpm:g} runs/min: {len(ids)} firing instance(s) in "
              f"{6.0 - WARM_UP.total_seconds() / 3600:g} fleet-hours"
              + "".join(f"\n    {dict(i)}" for i in ids), flush=True)  # fmt: skip
    print(f"false quality_drop alerts: {false_ids} in {fleet_hours:g} healthy fleet-hours")


if __name__ == "__main__":
    main()
