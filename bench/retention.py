"""Retention on the generator's default fleet: bytes before and after, what was kept, checks.

    .venv/bin/python bench/retention.py [--hours 6] [--runs-per-minute 20] [--seed 7]
        [--sample-by runs|spans] [--out DIR]

Generates the fleet, ingests it, builds, then runs `retain` as of two hours after the
fleet's end (so every finished run is decided), and prints:
- raw span bytes (Parquet under lake/spans) and spans before and after;
- runs and spans kept per reason;
- checks of the rules against the warehouse and the generator's ground truth: every
  failed or timed-out run kept, the top ceil(1 %) by cost per agent and hour kept, the
  uniform sample exactly the hash rule, no running run decided, facts unchanged;
- the share of runs kept as anomaly and of healthy (ok) runs kept;
- how well weights estimate the whole fleet from what is left;
- the kept share of each labelled incident's runs.
Figures, never pass/fail.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fleetsignals.config import load_config  # noqa: E402
from fleetsignals.generate.fleet import generate_fleet  # noqa: E402
from fleetsignals.home import Home  # noqa: E402
from fleetsignals.retention import retain  # noqa: E402
from fleetsignals.snapshot import connect_snapshot  # noqa: E402
from fleetsignals.warehouse import build  # noqa: E402

FACTS = (
    "select count(*), sum(step_count), sum(input_tokens), sum(output_tokens), "
    "round(sum(cost_usd), 6), count(*) filter (where status = 'error') from fct_runs"
)


def _tool_spans(home: Home, weights: dict[str, float] | None = None):
    """Tool spans in the lake; with weights, the fleet-wide estimate from the kept ones and
    its standard error."""
    files = [str(f) for f in sorted(home.lake.glob("dt=*/hr=*/*.parquet"))]
    with duckdb.connect() as con:
        if weights is None:
            return con.execute(
                "select count(*) from read_parquet($f, hive_partitioning = false) "
                "where operation = 'tool'",
                {"f": files},
            ).fetchone()[0]
        con.execute("create table w (run_id varchar, weight double)")
        con.executemany("insert into w values (?, ?)", list(weights.items()))
        # The Horvitz-Thompson total and its standard error estimated from the sample:
        # sqrt(sum over kept runs of (w^2 - w) y^2), y = the run's tool spans.
        return con.execute(
            "select sum(weight * y), sqrt(sum((weight * weight - weight) * y * y)) from ("
            "    select coalesce(w.weight, 1.0) as weight, count(*) as y "
            "    from read_parquet($f, hive_partitioning = false) as s "
            "    left join w on w.run_id = s.trace_id where s.operation = 'tool' "
            "    group by s.trace_id, w.weight)",
            {"f": files},
        ).fetchone()


def _lake(home: Home) -> tuple[int, int, int]:
    files = sorted(home.lake.glob("dt=*/hr=*/*.parquet"))
    with duckdb.connect() as con:
        spans = con.execute(
            "select count(*) from read_parquet($f, hive_partitioning = false)",
            {"f": [str(f) for f in files]},
        ).fetchone()[0]
    return sum(f.stat().st_size for f in files), spans, len(files)


def _ingest(dumps: Path, home: Home) -> None:
    """`fleetsignals ingest` in its own process, as a user runs it (and isolated from the
    DuckDB state of the generator in this one)."""
    code = "import sys; from fleetsignals.cli import main; sys.argv[0] = 'fleetsignals'; main()"
    subprocess.run(
        [sys.executable, "-c", code, "--home", str(home.root), "ingest", str(dumps)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _u(run_id: str) -> float:
    return int(hashlib.md5(run_id.encode()).hexdigest()[:15], 16) / float(1 << 60)


def _timed(label: str, fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    print(f"{label:<28} {time.perf_counter() - started:8.1f} s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--runs-per-minute", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sample-by", choices=("runs", "spans"), default="runs")
    parser.add_argument("--out", type=Path, help="keep everything here (default: a temp dir)")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="bench-retention-"))
    root.mkdir(parents=True, exist_ok=True)
    fleet, home = root / "fleet", Home(root / "home").ensure()
    config = load_config(None)
    config["retention"]["sample_by"] = args.sample_by
    try:
        start = datetime(2026, 11, 1)
        _timed(
            "generate",
            generate_fleet,
            fleet,
            start=start,
            hours=args.hours,
            runs_per_minute=args.runs_per_minute,
            seed=args.seed,
        )
        _timed("ingest", _ingest, fleet / "dumps", home)
        _timed("build", build, home, config)
        with connect_snapshot(home) as con:
            facts_before = con.execute(FACTS).fetchone()
            runs = {
                r[0]: r[1:]
                for r in con.execute(
                    "select run_id, status, agent_name, ended_at, cost_usd, input_tokens "
                    "from fct_runs"
                ).fetchall()
            }
        bytes_before, spans_before, files_before = _lake(home)
        tools_before = _tool_spans(home)
        at = start + timedelta(hours=args.hours + 2)
        summary = _timed("retain", retain, home, config, at)
        again = _timed("retain again (idempotent)", retain, home, config, at)
        _timed("build after retain", build, home, config)
        _timed("build --full-refresh", build, home, config, full_refresh=True)
        bytes_after, spans_after, files_after = _lake(home)
        with connect_snapshot(home) as con:
            facts_after = con.execute(FACTS).fetchone()
            decided = {
                r[0]: (r[1], r[2])
                for r in con.execute(
                    "select run_id, retention_reason, sample_weight from fct_runs "
                    "where retention_reason is not null"
                ).fetchall()
            }
        print()
        print(
            f"fleet: {args.hours:g} h x {args.runs_per_minute:g} runs/min, seed {args.seed}: "
            f"{len(runs)} runs"
        )
        print(
            f"raw span bytes: {bytes_before:,} -> {bytes_after:,} "
            f"({100 * (bytes_after - bytes_before) / bytes_before:+.1f} %)"
        )
        print(
            f"spans: {spans_before:,} -> {spans_after:,} "
            f"({100 * (spans_after - spans_before) / spans_before:+.1f} %); "
            f"files: {files_before} -> {files_after}"
        )
        print("\n".join("  " + line for line in summary.lines()[1:]))
        print(
            f"second run: decided {sum(c.runs for c in again.decided.values())}, "
            f"rewrote {again.partitions_rewritten} partitions"
        )
        print(
            f"fct_runs aggregates unchanged after prune + full refresh: "
            f"{facts_before == facts_after}"
        )
        estimate, se = _tool_spans(home, {r: w for r, (_, w) in decided.items()})
        print(
            f"tool spans estimated from the kept spans x sample_weight: {estimate:,.0f} vs "
            f"{tools_before:,} before pruning ({100 * (estimate / tools_before - 1):+.1f} %, "
            f"{(estimate - tools_before) / se:+.1f} standard errors; standard error "
            f"{100 * se / tools_before:.1f} %)"
        )
        _check_rules(runs, decided, summary, args.sample_by)
        _check_truth(fleet, decided)
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)


def _check_rules(runs: dict, decided: dict, summary, sample_by: str) -> None:
    required, missed = 0, []
    groups: dict[tuple, list[tuple[float, str]]] = defaultdict(list)
    for run_id, (status, agent, ended, cost, _tokens) in runs.items():
        if run_id not in decided:
            continue
        if status in ("error", "timeout"):
            required += 1
            if decided[run_id][0] == "pruned":
                missed.append(run_id)
        if cost is not None:
            hour = ended.replace(minute=0, second=0, microsecond=0)
            groups[(agent, hour)].append((cost, run_id))
    for members in groups.values():
        for _cost, run_id in sorted(members, key=lambda m: (-m[0], m[1]))[
            : -(-len(members) // 100)
        ]:
            required += 1
            if decided[run_id][0] == "pruned":
                missed.append(run_id)
    # Sampled runs fall under their own rate (1 / weight: 10 %, or a flagged group's own
    # rate, which is higher); sampling by runs, pruned runs never fall under the uniform 10 %
    # (by spans, a large run's own rate is lower).
    hash_wrong = sum(
        1
        for run_id, (reason, weight) in decided.items()
        if (reason == "sampled" and not _u(run_id) < 1 / weight)
        or (reason == "pruned" and _u(run_id) < 0.10 and sample_by == "runs")
    )
    running = sum(1 for r, v in runs.items() if v[0] == "running" and r in decided)
    print(
        f"rules: {required} runs required (failed/timed out, cost tail), "
        f"{required - len(missed)} kept ({100 * (1 - len(missed) / max(required, 1)):.1f} %); "
        f"sample off the hash rule: {hash_wrong}; running runs decided: {running}; "
        f"undecided: {len(runs) - len(decided)}"
    )
    n = len(decided)
    ok = [r for r in decided if runs[r][0] == "ok"]
    ok_kept = sum(1 for r in ok if decided[r][0] != "pruned")
    anomaly = sum(1 for reason, _ in decided.values() if reason == "anomaly")
    # Where the healthy runs kept come from: the sample (of which the runs only a flagged
    # group's higher rate kept: hash at or above the base 10 %), evidence, the cost tail.
    by_reason = {
        reason: sum(1 for r in ok if decided[r][0] == reason)
        for reason in ("sampled", "anomaly", "cost_tail")
    }
    group_only = sum(1 for r in ok if decided[r][0] == "sampled" and _u(r) >= 0.10)
    shares = ", ".join(f"{k} {100 * v / max(len(ok), 1):.1f}" for k, v in by_reason.items())
    if sample_by == "runs":  # by spans, small runs' own rates are above 10 % too
        shares += f"; sampled only at a flagged group's higher rate: {group_only}"
    print(
        f"kept: {100 * anomaly / n:.1f} % of decided runs as anomaly; healthy (ok) runs kept "
        f"{ok_kept}/{len(ok)} ({100 * ok_kept / max(len(ok), 1):.1f} %: {shares})"
    )
    weighted = sum(w for _, w in decided.values())
    true_tokens = sum((runs[r][4] or 0) for r in decided)
    est_tokens = sum((runs[r][4] or 0) * w for r, (_, w) in decided.items())
    # Standard errors of the Horvitz-Thompson totals, estimated from the sample itself:
    # sqrt(sum over sampled runs of (1 - p) / p^2 x^2), p = 1 / weight.
    se_n = sum(w * w - w for _, w in decided.values() if w > 1) ** 0.5
    se_tokens = (
        sum((w * w - w) * (runs[r][4] or 0) ** 2 for r, (_, w) in decided.items() if w > 1) ** 0.5
    )
    print(
        f"weights: sum(sample_weight) = {weighted:,.0f} for {n:,} decided runs "
        f"({100 * (weighted - n) / n:+.1f} %, {(weighted - n) / se_n:+.1f} standard errors); "
        f"input tokens estimated from kept runs {est_tokens:,.0f} vs {true_tokens:,.0f} "
        f"({100 * (est_tokens / true_tokens - 1):+.1f} %, "
        f"{(est_tokens - true_tokens) / se_tokens:+.1f} standard errors)"
    )
    del summary


def _check_truth(fleet: Path, decided: dict) -> None:
    import pyarrow.parquet as pq

    truth = pq.read_table(fleet / "runs.parquet", columns=["run_id", "status"]).to_pylist()
    failed = [t["run_id"] for t in truth if t["status"] in ("error", "timeout")]
    judged = [r for r in failed if r in decided]
    kept = sum(1 for r in judged if decided[r][0] != "pruned")
    print(f"ground truth: {len(judged)} failed/timed-out runs decided, {kept} kept")
    incidents = json.loads((fleet / "ground_truth.json").read_text())["incidents"]
    for incident in incidents:
        ids = [r for r in incident.get("run_ids", []) if r in decided]
        if not ids:
            continue
        kept = sum(1 for r in ids if decided[r][0] != "pruned")
        flagged = sum(1 for r in ids if decided[r][0] == "anomaly")
        print(
            f"  incident {incident['name']:<16} (signal {incident.get('signal') or '-'}): "
            f"{kept}/{len(ids)} runs kept, {flagged} as anomaly"
        )


if __name__ == "__main__":
    main()
