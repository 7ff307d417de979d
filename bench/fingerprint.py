"""Power and false positives of the fingerprint_drift test, and its cost at fleet scale.

    .venv/bin/python bench/fingerprint.py            # 3 fleets, ~5 min on 2 cores
    .venv/bin/python bench/fingerprint.py --seeds 1  # quicker

Healthy (A/A) fleets: every (agent, variant)-hour after a 4 h warm-up is a
trial; it is a false positive when any of its twelve 5-minute windows is in
alert. Drift trials: on the same fleets, the runs that start in one hour
[S, S+1h) are re-simulated with a graded drift (bench/fingerprint_fleets.py),
at six S per fleet; a trial is one (agent, variant) and is detected when a
window ending in (S, S+60m] is in alert. Windows up to S+3h are evaluated too:
an alert once the current window holds no drifted run (W > S+2h) is a false
alarm on recovery. Trials whose pair had fewer runs in the hour than the
minimum sample are counted apart (the test abstains on them by design).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fingerprint_fleets import (  # noqa: E402
    Drift,
    Fleet,
    SimRun,
    drifted_runs,
    healthy_fleet,
    hour_us,
    to_pairs,
)

from fleetsignals.fingerprints.drift import (  # noqa: E402
    Settings,
    evaluate_windows,
    score_runs,
    window_grid,
)
from fleetsignals.fingerprints.stats import hotelling  # noqa: E402

HOURS = 30.0
WARMUP_H = 4.0
STARTS_H = [6.0, 10.0, 14.0, 18.0, 22.0, 26.0]
DRIFTS = [
    Drift("tool_mix", 0.10),
    Drift("tool_mix", 0.20),
    Drift("tool_mix", 0.30),
    Drift("tool_mix", 0.50),
    Drift("output", 0.20),
    Drift("output", 0.30),
    Drift("output", 0.50),
    Drift("steps", 0.20),
    Drift("steps", 0.50),
    # Like the generator's behaviour_drift incident: 30-50 % of the top tool's calls moved
    # (~10-20 % of all calls) for 15-90 min.
    Drift("tool_mix", 0.15, 30),
    Drift("tool_mix", 0.20, 20),
]
HOUR = 3600 * 1_000_000


def firing_ends(results: list, step_us: int) -> set[int]:
    """Window ends at which an alert with ``for: 5m`` fires: in alert then and 5 min before."""
    alerting = {r.window_end_us for r in results if r.is_alert}
    return {e for e in alerting if e - step_us in alerting}


def aa_trials(pairs: dict, settings: Settings) -> dict[str, float]:
    """Healthy pair-hours: tested, false positives, windows tested and in alert."""
    for p in pairs.values():
        p.alert_ends = []
    ends = window_grid(hour_us(WARMUP_H) + 1, hour_us(HOURS), settings)
    results = evaluate_windows(list(pairs.values()), ends, settings)
    hours: dict[tuple, list] = {}
    for r in results:
        hour = (r.window_end_us - 1) // HOUR
        hours.setdefault((r.agent_name, r.prompt_variant, hour), []).append(r)
    tested = [h for h in hours.values() if any(r.p_value is not None for r in h)]
    fired = set()
    for key in pairs:
        mine = [r for r in results if (r.agent_name, r.prompt_variant) == key]
        fired |= {(*key, (e - 1) // HOUR) for e in firing_ends(mine, settings.step_us)}
    return {
        "pair_hours": len(tested),
        "false_positive_hours": sum(any(r.is_alert for r in h) for h in tested),
        "false_positive_hours_for5": sum(
            (h[0].agent_name, h[0].prompt_variant, (h[0].window_end_us - 1) // HOUR) in fired
            for h in tested
        ),
        "windows": sum(r.p_value is not None for r in results),
        "alert_windows": sum(r.is_alert for r in results),
        "p_values": [r.p_value for r in results if r.p_value is not None],
    }


def splice(
    healthy: list[SimRun], drifted: list[SimRun], start_h: float, minutes: int = 60
) -> list[SimRun]:
    """Healthy runs, with those starting in [S, S + minutes) replaced by their drifted twins."""
    lo, hi = hour_us(start_h), hour_us(start_h + minutes / 60)
    keep_from, keep_to = hour_us(start_h - 24), hour_us(start_h + 3)
    base = [r for r in healthy if not lo <= r.started_us < hi and keep_from < r.ended_us <= keep_to]
    return base + [r for r in drifted if lo <= r.started_us < hi]


def drift_trials(fleet: Fleet, drift: Drift, settings: Settings) -> list[dict]:
    drifted = drifted_runs(fleet, drift, STARTS_H, drift.minutes / 60)
    trials = []
    for start_h in STARTS_H:
        pairs = to_pairs(splice(fleet.healthy, drifted, start_h, drift.minutes))
        s_us = hour_us(start_h)
        ends = window_grid(s_us + 1, s_us + 3 * HOUR, settings)
        results = evaluate_windows(list(pairs.values()), ends, settings)
        for key in pairs:
            mine = [r for r in results if (r.agent_name, r.prompt_variant) == key]
            first = [r for r in mine if r.window_end_us <= s_us + HOUR]
            full = first[-1]
            hits = [r for r in first if r.is_alert]
            trials.append(
                {
                    "testable": full.n_current >= settings.min_current_runs
                    and full.n_baseline >= settings.min_baseline_runs,
                    "n_current": full.n_current,
                    "detected": bool(hits),
                    "detected_for5": any(
                        e <= s_us + HOUR for e in firing_ends(mine, settings.step_us)
                    ),
                    "delay_min": (hits[0].window_end_us - s_us) / 60e6 if hits else None,
                    "distance": full.distance,
                    "recovery_alert": any(
                        r.is_alert for r in mine if r.window_end_us > s_us + 2 * HOUR
                    ),
                }
            )
    return trials


def energy_p(
    baseline: np.ndarray, current: np.ndarray, rng: np.random.Generator, perms: int
) -> float:
    """Energy-distance two-sample test with a permutation null (standardized features)."""
    x = np.vstack([baseline, current])
    x = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    sq = np.sum(x**2, axis=1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0))
    m = len(baseline)

    def stat(idx: np.ndarray) -> float:
        a, b = idx[:m], idx[m:]
        return 2 * d[np.ix_(a, b)].mean() - d[np.ix_(a, a)].mean() - d[np.ix_(b, b)].mean()

    observed = stat(np.arange(len(x)))
    beats = sum(stat(rng.permutation(len(x))) >= observed for _ in range(perms))
    return (beats + 1) / (perms + 1)


def test_choice(fleet: Fleet, settings: Settings) -> list[dict]:
    """Hotelling vs energy distance on the same 60-min windows: A/A and tool-mix shifts."""
    from fleetsignals.fingerprints.drift import baseline_rows, current_rows, vectors, winsorize

    rng = np.random.default_rng(11)
    d10 = drifted_runs(fleet, Drift("tool_mix", 0.1), STARTS_H, 1.0)
    d20 = drifted_runs(fleet, Drift("tool_mix", 0.2), STARTS_H, 1.0)
    out = []
    for label, runs_for in (
        ("A/A", lambda s: fleet.healthy),
        ("tool mix 10 %", lambda s: splice(fleet.healthy, d10, s)),
        ("tool mix 20 %", lambda s: splice(fleet.healthy, d20, s)),
    ):
        for start_h in STARTS_H:
            pairs = to_pairs(runs_for(start_h))
            end = hour_us(start_h + 1)
            for pair in pairs.values():
                base, cur = baseline_rows(pair, end, settings), current_rows(pair, end, settings)
                if len(cur) < settings.min_current_runs or len(base) < settings.min_baseline_runs:
                    continue
                base = base[np.linspace(0, len(base) - 1, min(len(base), 400)).astype(int)]
                x = vectors(pair, np.concatenate([base, cur]), settings)
                xb, xc = winsorize(x[: len(base)], x[len(base) :], settings.clip_sd)
                t0 = time.perf_counter()
                ph = hotelling(xb, xc).p_value
                t1 = time.perf_counter()
                pe = energy_p(xb, xc, rng, 199)
                t2 = time.perf_counter()
                out.append({"case": label, "hotelling": ph, "energy": pe,
                            "t_h": t1 - t0, "t_e": t2 - t1})  # fmt: skip
    return out


def scale_timing(pairs_n: int = 30, runs_per_hour: int = 60_000, hours: int = 25) -> dict:
    """One build's fingerprint steps at fleet scale, through the warehouse code path.

    ``fct_run_fingerprints`` is synthesized in DuckDB: ``runs_per_hour`` runs over
    ``pairs_n`` pairs for ``hours`` (1,000 concurrent one-minute runs ~ 60,000 runs/h),
    the windows up to 5 min before the watermark already computed and their runs
    scored; the timed steps add the next window and score its runs. Wall time and CPU
    time are both printed (the machine is shared).
    """
    import duckdb

    from fleetsignals.fingerprints.warehouse import compute_scores, compute_windows

    n = runs_per_hour * hours
    gap_us = 3_600_000_000 // runs_per_hour
    end = datetime(2026, 11, 1) + timedelta(hours=hours)
    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        con.execute(
            f"""
            create table runs as
            select md5(i::varchar) as run_id, 'agent' || (i % {pairs_n})::varchar as agent_name,
                'v1' as prompt_variant,
                timestamp '2026-11-01' + to_microseconds((i * {gap_us})::bigint) as ended_at,
                (2 + hash(i, 's') % 20)::bigint as step_count,
                (1 + hash(i, 'd') % 4)::bigint as distinct_tool_count,
                (hash(i, 't') % 100) / 50.0 as tools_per_llm_call,
                (hash(i, 'r') % 100) / 100.0 as repeat_ratio,
                (hash(i, 'b') % 100) / 100.0 as backtrack_ratio,
                case when hash(i, 'e') % 20 = 0 then 0.5 else 0 end as tool_error_rate,
                case when hash(i, 'e') % 20 = 0 then 1.0 end as recovery_rate,
                (50 + hash(i, 'o') % 200)::double as output_tokens_per_llm_call,
                (1 + hash(i, 'c') % 6)::bigint as tool_call_count,
                map(['search', 'fetch', 'calc'], [0.5, 0.3, 0.2]) as tool_shares
            from range({n}) as t (i)
            """
        )
        con.execute(
            "create table marks as select $1::timestamp as watermark_at, 'bench' as build_id,"
            " 1 as build_seq",
            [end],
        )
        done = end - timedelta(minutes=5)
        con.execute(
            "create table windows as select $1::timestamp as window_end_at, "
            "'agent0' as agent_name, 'v1' as prompt_variant, false as is_alert",
            [done],
        )
        con.execute(
            "create table scores as select run_id, ended_at, ended_at as scored_at "
            "from runs where ended_at <= $1",
            [done],
        )
        settings = Settings()
        t0, c0 = time.perf_counter(), time.process_time()
        new = compute_windows(con, "select * from runs", "select * from marks",
                              "select * from windows", settings)  # fmt: skip
        t1, c1 = time.perf_counter(), time.process_time()
        con.execute("insert into windows select window_end_at, agent_name, prompt_variant, "
                    "is_alert from new")  # fmt: skip
        t2, c2 = time.perf_counter(), time.process_time()
        scored = compute_scores(con, "select * from runs", "select * from windows",
                                "select * from marks", "select * from scores",
                                settings)  # fmt: skip
        t3, c3 = time.perf_counter(), time.process_time()
    return {
        "runs_in_history": n, "pairs": pairs_n, "windows": new.num_rows,
        "scored": scored.num_rows, "windows_wall": t1 - t0, "windows_cpu": c1 - c0,
        "scores_wall": t3 - t2, "scores_cpu": c3 - c2,
    }  # fmt: skip


def run_seed(seed: int, rpm: float, settings: Settings, compare: bool) -> dict:
    fleet = healthy_fleet(seed, HOURS, rpm)
    out: dict = {"seed": seed, "runs": len(fleet.healthy)}
    pairs = to_pairs(fleet.healthy)
    out["aa"] = aa_trials(pairs, settings)
    out["aa_nofloor"] = aa_trials(pairs, replace(settings, min_distance=0.0))
    out["anomaly_healthy"] = healthy_anomaly_rate(pairs, settings)
    out["drift"] = {d.label: drift_trials(fleet, d, settings) for d in DRIFTS}
    if compare:
        out["compare"] = test_choice(fleet, settings)
        out["scale"] = scale_timing()
    return out


def quick_seed(seed: int, rpm: float, settings: Settings) -> str:
    """The two figures the targets name, for one seed: false pair-hours on the healthy fleet
    and power on a 20 % tool-mix shift (alerted within 60 min, testable pair-hours)."""
    fleet = healthy_fleet(seed, HOURS, rpm)
    aa = aa_trials(to_pairs(fleet.healthy), settings)
    trials = [t for t in drift_trials(fleet, Drift("tool_mix", 0.20), settings) if t["testable"]]
    hit = sum(t["detected"] for t in trials)
    pv = np.array(aa["p_values"])
    return (
        f"seed {seed}, {rpm:g} runs/min: false pair-hours "
        f"{pct(aa['false_positive_hours'], aa['pair_hours'])} of {aa['pair_hours']} "
        f"({pct(aa['false_positive_hours_for5'], aa['pair_hours'])} with for: 5m); "
        f"tool mix 20 %: {pct(hit, len(trials))} of {len(trials)}; A/A windows {len(pv)} with "
        f"p < 0.05 / 0.01 / 0.001: {np.mean(pv < 0.05):.3f} / {np.mean(pv < 0.01):.4f} / "
        f"{np.mean(pv < 0.001):.4f}"
    )


def healthy_anomaly_rate(pairs: dict, settings: Settings) -> float:
    flagged = total = 0
    for p in pairs.values():
        rows = np.nonzero(p.ended_us > hour_us(WARMUP_H))[0]
        scores = score_runs(p, rows, settings)
        flagged += sum(s.is_anomalous for s in scores)
        total += len(scores)
    return flagged / max(total, 1)


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f} %" if n else "n/a"


def report(results: list[dict], settings: Settings, elapsed: float) -> None:
    print(f"\n## fingerprint_drift: power and false positives ({len(results)} fleets, "
          f"{sum(r['runs'] for r in results)} runs, {elapsed:.0f} s)\n")  # fmt: skip
    test = "tool mix on calls + scalars T²" if getattr(settings, "tool_mix_on_calls", False) else (
        "split T²" if settings.split_tests else "joint T²")  # fmt: skip
    print(f"Settings: {test}, current windows {', '.join(str(w) for w in settings.windows)}, baseline up to {settings.baseline}, "
          f"alpha {settings.alpha} per window, clip {settings.clip_sd} SD, min distance {settings.min_distance}, "
          f"min runs {settings.min_current_runs} current / {settings.min_baseline_runs} baseline.\n")  # fmt: skip
    aa = [r["aa"] for r in results]
    ph, fp = sum(a["pair_hours"] for a in aa), sum(a["false_positive_hours"] for a in aa)
    nf = [r["aa_nofloor"] for r in results]
    fp0 = sum(a["false_positive_hours"] for a in nf)
    fp5 = sum(a["false_positive_hours_for5"] for a in aa)
    print(
        "| scenario | trials (pair-hours) | alerted within 60 min | same with for: 5m "
        "| median delay | mean distance | alarms 2-3 h after start | untestable (thin traffic) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| healthy A/A (false positives) | {ph} | {pct(fp, ph)} | {pct(fp5, ph)} | | | | |")
    print(f"| healthy A/A, no distance floor | {ph} | {pct(fp0, ph)} | | | | | |")
    for d in DRIFTS:
        trials = [t for r in results for t in r["drift"][d.label]]
        ok = [t for t in trials if t["testable"]]
        hits = [t for t in ok if t["detected"]]
        delays = [t["delay_min"] for t in hits]
        dist = [t["distance"] for t in ok if t["distance"] is not None]
        rec = sum(t["recovery_alert"] for t in ok)
        h5 = pct(sum(t["detected_for5"] for t in ok), len(ok))
        print(f"| {d.label} | {len(ok)} | {pct(len(hits), len(ok))} | {h5} | "
              f"{np.median(delays):.0f} min | {np.mean(dist):.2f} | {pct(rec, len(ok))} | "
              f"{len(trials) - len(ok)} |" if hits else
              f"| {d.label} | {len(ok)} | {pct(0, len(ok))} | {h5} | - | {np.mean(dist):.2f} | "
              f"{pct(rec, len(ok))} | {len(trials) - len(ok)} |")  # fmt: skip
    pv = np.array([p for a in aa for p in a["p_values"]])
    print(f"\nA/A windows: {len(pv)}; share with p < 0.05: {np.mean(pv < 0.05):.3f}, "
          f"< 0.01: {np.mean(pv < 0.01):.4f}, < 0.001: {np.mean(pv < 0.001):.4f} "
          "(a calibrated test: 0.05, 0.01, 0.001)")  # fmt: skip
    rates = [r["anomaly_healthy"] for r in results]
    print(
        f"Healthy runs flagged anomalous: {100 * np.mean(rates):.2f} % "
        f"(target {100 * (1 - settings.anomaly_quantile):.1f} %)"
    )
    # Power by traffic: how many runs the pair had in the drifted hour.
    print("\nPower by runs per pair-hour (tool mix 20 % / outputs 30 % shorter):\n")
    print("| runs in the hour | tool mix 20 % | outputs 30 % shorter |")
    print("|---|---:|---:|")
    bins = [(30, 60), (60, 120), (120, 400), (400, 10**9)]
    for lo, hi in bins:
        cells = []
        for label in ("tool mix shift 20%", "outputs 30% shorter"):
            ts = [t for r in results for t in r["drift"][label]
                  if t["testable"] and lo <= t["n_current"] < hi]  # fmt: skip
            cells.append(f"{pct(sum(t['detected'] for t in ts), len(ts))} of {len(ts)}")
        print(f"| {lo}-{hi if hi < 10**9 else ''} | {cells[0]} | {cells[1]} |")
    for r in results:
        if "compare" in r:
            c = r["compare"]
            print("\nTest choice (same windows, baseline subsampled to 400 runs, alpha 0.01):\n")
            print(
                "| case | windows | Hotelling rejects | energy (199 perms) rejects | ms per test H / E |"
            )
            print("|---|---:|---:|---:|---:|")
            for case in ("A/A", "tool mix 10 %", "tool mix 20 %"):
                rows = [x for x in c if x["case"] == case]
                print(f"| {case} | {len(rows)} | {pct(sum(x['hotelling'] < 0.01 for x in rows), len(rows))} | "
                      f"{pct(sum(x['energy'] < 0.01 for x in rows), len(rows))} | "
                      f"{1000 * np.mean([x['t_h'] for x in rows]):.2f} / "
                      f"{1000 * np.mean([x['t_e'] for x in rows]):.0f} |")  # fmt: skip
            s = r["scale"]
            print(
                f"\nFleet scale, one build's fingerprint steps ({s['runs_in_history']:,} runs of "
                f"history, {s['pairs']} pairs): new windows {s['windows_wall']:.2f} s wall / "
                f"{s['windows_cpu']:.2f} s CPU, scoring {s['scored']:,} runs "
                f"{s['scores_wall']:.2f} s wall / {s['scores_cpu']:.2f} s CPU"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--runs-per-minute", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--windows", default=None, help="current windows in minutes, e.g. 30,60 (default: model's)"
    )
    parser.add_argument("--clip-sd", type=float, default=None, help="0 disables winsorizing")
    parser.add_argument("--alpha", type=float, default=None, help="per-window significance")
    parser.add_argument("--first-seed", type=int, default=1, help="held-out seeds: start past 3")
    parser.add_argument(
        "--split",
        action="store_true",
        help="with --no-calls: separate T² tests for tool mix and scalars",
    )
    parser.add_argument(
        "--calls",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="tool mix on call counts (cluster-robust) + scalars T² (tool_mix_on_calls; "
        "default: on); --no-calls: one joint T² on per-run shares and scalars",
    )
    parser.add_argument(
        "--no-compare", action="store_true", help="skip the test-choice and fleet-scale tables"
    )
    parser.add_argument(
        "--quick", action="store_true", help="only false pair-hours and 20 %% tool-mix power"
    )
    parser.add_argument("--save", default=None, help="also pickle the raw results to this file")
    parser.add_argument("--report", default=None, help="only print the tables of a --save file")
    args = parser.parse_args()
    if args.report:
        results, settings = pickle.loads(Path(args.report).read_bytes())
        report(results, settings, 0.0)
        return
    settings = Settings()
    if args.windows:
        minutes = [float(m) for m in args.windows.split(",")]
        settings = replace(settings, windows=tuple(timedelta(minutes=m) for m in minutes))
    if args.clip_sd is not None:
        settings = replace(settings, clip_sd=args.clip_sd)
    if args.alpha is not None:
        settings = replace(settings, alpha=args.alpha)
    if args.split:
        settings = replace(settings, split_tests=True)
    if args.calls is not None:
        settings = replace(settings, tool_mix_on_calls=args.calls)
    t0 = time.perf_counter()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.quick:
        print(f"split tests: {settings.split_tests}, tool mix on calls: "
              f"{settings.tool_mix_on_calls}, alpha {settings.alpha}")  # fmt: skip
        with ProcessPoolExecutor(args.workers) as pool:
            for line in pool.map(quick_seed, seeds, [args.runs_per_minute] * len(seeds),
                                 [settings] * len(seeds)):  # fmt: skip
                print(line, flush=True)
        return
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [
            pool.submit(
                run_seed, s, args.runs_per_minute, settings, s == seeds[0] and not args.no_compare
            )
            for s in seeds
        ]
        results = [f.result() for f in futures]
    if args.save:
        Path(args.save).write_bytes(pickle.dumps((results, settings)))
    report(results, settings, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
