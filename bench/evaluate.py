"""Where the evaluate stage goes: each signal's seconds on a plain snapshot connection
against the as-of connection evaluation uses, on one data home at one evaluation time.

    .venv/bin/python bench/evaluate.py HOME EVAL_AT [--pairs 3] [--signals DIR ...]

HOME is a built data home (e.g. one kept by ``bench/cycle.py --keep DIR``: DIR/days1),
EVAL_AT its evaluation time (``bench/cycle.py``'s last cycle is 2026-11-20 00:05:00 with
``--rounds 1``). Each pair opens a fresh connection of each kind and runs every signal
once on each (alerts.evaluation.evaluate_signal, as the scheduler does), the two kinds
alternating which goes first, so a warm cache favours neither. ``open`` is opening the
connection and setting $eval_at (on the as-of connection: creating the views and
re-deriving the runs in flight, which the first signal of a cycle pays for).

Prints, per signal, the median seconds plain and as of $eval_at and their ratio, the
rows each returned and a digest of them (so two versions of the code can be checked to
give the same results on the same home), and the load (/proc/loadavg) before and after.
Nothing under HOME is written: no alert state, no notices.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleetsignals.alerts.definitions import load_signals  # noqa: E402
from fleetsignals.alerts.evaluation import evaluate_signal  # noqa: E402
from fleetsignals.config import load_config  # noqa: E402
from fleetsignals.home import Home  # noqa: E402
from fleetsignals.sandbox import connect_sandbox, set_eval_at  # noqa: E402
from fleetsignals.timeutil import parse_time  # noqa: E402

KINDS = ("plain", "as-of")


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def digest(samples: list) -> str:
    """A short digest of a signal's samples (labels and values), order-independent."""
    lines = sorted(repr((sorted(s.labels.items()), s.value)) for s in samples)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


def one_pass(home, config, kind, signals, eval_at, seconds, results) -> None:
    """Open a connection of ``kind``, set $eval_at, run every signal; append the seconds."""
    t0 = time.perf_counter()
    con = connect_sandbox(home, config, as_of=kind == "as-of")
    try:
        set_eval_at(con, eval_at)
        seconds[kind]["open"].append(time.perf_counter() - t0)
        for signal in signals:
            evaluation = evaluate_signal(con, signal, eval_at)
            if evaluation.error:
                raise SystemExit(f"{signal.name} ({kind}): {evaluation.error}")
            seconds[kind][signal.name].append(evaluation.seconds)
            results[kind][signal.name] = (len(evaluation.samples), digest(evaluation.samples))
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] + " " + __doc__.splitlines()[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("home", type=Path, help="a built data home")
    parser.add_argument("eval_at", help="the evaluation time, e.g. 2026-11-20T00:05:00")
    parser.add_argument(
        "--pairs", type=int, default=3, help="alternated plain / as-of passes (median)"
    )
    parser.add_argument(
        "--signals",
        nargs="+",
        help="signal directories (default: the config's signal_dirs)",
    )
    parser.add_argument("--only", nargs="+", help="only these signals")
    args = parser.parse_args()
    home = Home(args.home.resolve())
    if not home.database.exists():
        parser.error(f"{args.home}: not a built data home (no {home.database.name})")
    config = load_config(None)
    eval_at = parse_time(args.eval_at)
    before = load()
    with connect_sandbox(home, config, as_of=True) as con:
        signals, problems = load_signals(args.signals or config["signal_dirs"], con, args.only)
    if problems:
        raise SystemExit(f"signal problems: {problems}")
    names = ["open"] + [s.name for s in signals]
    seconds = {kind: {name: [] for name in names} for kind in KINDS}
    results: dict[str, dict[str, tuple[int, str]]] = {kind: {} for kind in KINDS}
    for pair in range(args.pairs):
        for kind in KINDS if pair % 2 else KINDS[::-1]:
            one_pass(home, config, kind, signals, eval_at, seconds, results)
    after = load()
    print(
        f"{home.root} at {eval_at:%Y-%m-%d %H:%M:%S}: {len(signals)} signals, median of "
        f"{args.pairs} alternated pairs (seconds); load before {before}, after {after}"
    )
    print(f"{'':28} {'plain':>7} {'as-of':>7} {'ratio':>6}   rows digest (plain | as-of)")
    for name in names:
        plain, as_of = (statistics.median(seconds[kind][name]) for kind in KINDS)
        shown = (
            ""
            if name == "open"
            else "   "
            + " | ".join(f"{results[kind][name][0]:4d} {results[kind][name][1]}" for kind in KINDS)
        )
        print(f"{name:28} {plain:7.3f} {as_of:7.3f} {as_of / plain:6.2f}{shown}")
    totals = [sum(statistics.median(seconds[kind][n]) for n in names) for kind in KINDS]
    print(f"{'total':28} {totals[0]:7.3f} {totals[1]:7.3f} {totals[1] / totals[0]:6.2f}")


if __name__ == "__main__":
    main()
