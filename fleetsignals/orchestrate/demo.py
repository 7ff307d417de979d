"""`fleetsignals demo`: the whole pipeline on a synthetic fleet, scored against its ground truth.

Like the scheduler, it sits above the stages and calls each in turn.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.config import Config
from fleetsignals.generate import generate_fleet
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.report import report_steps, write_report
from fleetsignals.retention import retain
from fleetsignals.timeutil import format_time
from fleetsignals.warehouse import build

# Firing this long after an incident ended still counts as detecting it.
DETECTION_SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class Episode:
    """One stretch of consecutive steps in which an instance was firing."""

    signal: str
    labels: dict[str, str]
    start: datetime
    end: datetime
    value: float | None


def firing_episodes(records: list[dict[str, Any]], every: timedelta) -> list[Episode]:
    """Merge per-step firing records into episodes (a gap of more than one step splits)."""
    by_key: dict[tuple[str, tuple], list[dict[str, Any]]] = {}
    for record in records:
        if record["state"] == "firing":
            key = (record["signal"], tuple(sorted(record["labels"].items())))
            by_key.setdefault(key, []).append(record)
    episodes = []
    for (signal, labels), rows in sorted(by_key.items()):
        rows.sort(key=lambda r: r["eval_at"])
        first = last = rows[0]
        for row in rows[1:]:
            if row["eval_at"] - last["eval_at"] > every:
                episodes.append(
                    Episode(signal, dict(labels), first["eval_at"], last["eval_at"], last["value"])
                )
                first = row
            last = row
        episodes.append(
            Episode(signal, dict(labels), first["eval_at"], last["eval_at"], last["value"])
        )
    return episodes


def overlaps(episode: Episode, incident: Any) -> bool:
    """The episode starts in the incident's window (or soon after) with agreeing labels."""
    shared = set(episode.labels) & set(incident.labels)
    if any(episode.labels[k] != incident.labels[k] for k in shared):
        return False
    return incident.start <= episode.start <= incident.end + DETECTION_SLACK


def matches(episode: Episode, incident: Any) -> bool:
    """An episode detects an incident when the signal is the incident's, the labels they
    share agree (a stuck-run alert also carries run_id), and it fires in the window."""
    return episode.signal == incident.signal and overlaps(episode, incident)


def explain(episode: Episode, incidents: list[Any]) -> str:
    """Why an alert that detected no incident fired: another incident's side effect
    (same labels, same time: a loop or a failing tool also changes the behaviour
    fingerprint), the control incident (which no signal should flag), or nothing known."""
    for incident in incidents:
        if set(episode.labels) & set(incident.labels) and overlaps(episode, incident):
            return f"side effect of {incident.name} (same labels, during it)"
    for incident in incidents:
        if incident.signal is None and overlaps(episode, incident):
            return f"false alarm during {incident.name}, which no signal should flag"
    return "false alarm: no labelled incident then"


@dataclass
class Scorecard:
    detected: list[tuple[Any, Episode]]
    missed: list[Any]
    other: list[Episode]


def score(episodes: list[Episode], incidents: list[Any]) -> Scorecard:
    card = Scorecard([], [], [])
    explained: set[int] = set()
    for incident in incidents:
        if incident.signal is None:
            continue
        hits = [(i, e) for i, e in enumerate(episodes) if matches(e, incident)]
        explained.update(i for i, _ in hits)
        if hits:
            card.detected.append((incident, min((e for _, e in hits), key=lambda e: e.start)))
        else:
            card.missed.append(incident)
    card.other = [e for i, e in enumerate(episodes) if i not in explained]
    return card


def rotate_hourly(files: list[Path], out: Path) -> Path:
    """Join the generator's minute files into hourly ones, as a Collector rotating hourly
    would write them: ingest pays a fixed cost per file, and the demo has 720 files.

    Rewritten on every run (an earlier demo's hours may belong to another fleet) and
    kept afterwards: the ingest manifest names them as its sources."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("traces-*.jsonl"):
        old.unlink()
    hours: dict[str, list[Path]] = {}
    for path in sorted(files):
        hours.setdefault(path.name[: len("traces-20261101T00")], []).append(path)
    for prefix, minutes in hours.items():
        target = out / f"{prefix}.jsonl"
        partial = target.with_suffix(".partial")
        with partial.open("wb") as sink:
            for minute in minutes:
                sink.write(minute.read_bytes())
        partial.replace(target)
    return out


@contextmanager
def stage(name: str, say: Callable[[str], None]) -> Iterator[None]:
    say(f"== {name}")
    started = time.perf_counter()
    yield
    say(f"   ({time.perf_counter() - started:.1f}s)")


def run_demo(
    home: Home,
    config: Config,
    say: Callable[[str], None],
    hours: float = 12.0,
    runs_per_minute: float = 12.0,
    seed: int = 7,
) -> Scorecard:
    """Generate, ingest, build, backtest, retain and report; print what happened."""
    home.ensure()
    fleet_dir = home.root / "demo" / "fleet"
    progress = sys.stderr.isatty()  # progress lines on a terminal only, never in a pipe or log
    with stage(f"generate: {hours:g} h of a synthetic fleet, seed {seed}", say):
        truth = generate_fleet(fleet_dir, hours=hours, runs_per_minute=runs_per_minute, seed=seed)
        say(f"   {truth.runs} runs, {truth.spans} spans in {len(truth.files)} files -> {fleet_dir}")
        for incident in truth.incidents:
            target = ", ".join(f"{k}={v}" for k, v in sorted(incident.labels.items()))
            say(
                f"   incident {incident.name:<16} {format_time(incident.start)} .. "
                f"{format_time(incident.end)}  {target}"
            )
    with stage("ingest the dumps into the Parquet lake", say):
        hourly_dir = rotate_hourly(truth.files, home.root / "demo" / "hourly")
        hourly = sorted(hourly_dir.glob("traces-*.jsonl"))
        say(
            f"   joined the {len(truth.files)} minute files into {len(hourly)} hourly files in "
            f"{hourly_dir} (as a Collector rotating hourly writes them; ingest pays a fixed "
            "cost per file); they stay there: the lake's manifest names them as sources"
        )
        landed = land_paths([hourly_dir], home, config, progress=progress, settle_seconds=0)
        say("   " + landed.line())
    with stage("build the warehouse (dbt)", say):
        built = build(home, config, progress=progress)
        say(f"   {built.models} models, {built.runs} runs in fct_runs; snapshot {built.snapshot}")
    every = timedelta(minutes=5)
    # The steps the report replays (the data's range on the 5-minute clock grid): the
    # report then reuses this backtest instead of running the same one again.
    steps = report_steps(home) or [truth.start, truth.end]
    with stage(
        f"backtest every signal at 5-minute steps, {format_time(steps[0])} .. "
        f"{format_time(steps[-1])}",
        say,
    ):
        result = run_backtest(home, config, steps[0], steps[-1], every, progress=progress)
        for problem in result.problems:
            say(f"   problem: {problem}")
    card = score(firing_episodes(result.records, every), truth.incidents)
    for incident, episode in card.detected:
        delay = (episode.start - incident.start).total_seconds() / 60
        say(f"   DETECTED {incident.name:<16} by {episode.signal:<18} after {delay:.0f} min")
    for incident in card.missed:
        say(f"   MISSED   {incident.name:<16} (expected {incident.signal})")
    if card.other:
        say("   alerts that detected no incident (first firing, labels, why):")
    for episode in card.other:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(episode.labels.items()))
        say(f"   OTHER    {episode.signal:<18} {format_time(episode.start)}  {labels}")
        say(f"            {explain(episode, truth.incidents)}")
    with stage("retain: tail-based sampling of stored traces", say):
        kept = retain(home, config, at=truth.end + timedelta(hours=2))
        for line in kept.lines():
            say("   " + line)
    with stage("build again: fct_runs gets each run's retention_reason and sample_weight", say):
        build(home, config, progress=progress)
    report_path = Path(home.root / "report.html")
    with stage("report", say):
        write_report(home, config, report_path, progress=progress, backtest=result)
        say(f"   {report_path}")
    say("")
    say("Where to look next:")
    say(f"   open {report_path}")
    say(
        f'   fleetsignals --home {home.root} sql "select agent_name, count(*) runs, '
        'sum(cost_usd) cost_usd from fct_runs group by all order by cost_usd desc"'
    )
    say(
        f"   fleetsignals --home {home.root} backtest --start {format_time(truth.start)} "
        f"--end {format_time(truth.end)} --signal p95_cost_jump"
    )
    say(
        f'   fleetsignals --home {home.root} sql "select * from dim_data_clock"   '
        "# the data's now: 'the last hour' is the last hour of data; ready queries "
        "(cost by tenant and model, top runs, unpriced calls): docs/warehouse.md, "
        "Common questions"
    )
    say(
        f"   ground truth: {truth.path} and {truth.runs_path} (per run; its cost_usd "
        "equals fct_runs.cost_usd)"
    )
    say("   docs: docs/architecture.md, docs/signals.md, docs/warehouse.md")
    return card
