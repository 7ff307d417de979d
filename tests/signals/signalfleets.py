"""Generated fleets for the shipped-signal tests, built through the real pipeline.

generate -> ingest -> dbt build -> read-only snapshot, then backtest through the real
alerts engine. The generator writes one dump file per minute; they are concatenated per
hour before ingest (a Collector's file exporter rotates at any size, and ingest pays a
fixed cost per file that these tests need not pay hundreds of times).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.config import Config, load_config
from fleetsignals.generate import GroundTruth, Incident, generate_fleet
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.orchestrate.demo import rotate_hourly
from fleetsignals.warehouse import build

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("correlated_failure", "depth_tail", "p95_cost_jump", "stuck_agent")
START = datetime(2026, 11, 1)
# Trailing windows (up to an hour) keep seeing an incident's runs after it ends.
GRACE = timedelta(minutes=75)


@dataclass
class Firing:
    signal: str
    labels: dict[str, str]
    first_at: datetime  # first evaluation at which the instance was firing


@dataclass
class BuiltFleet:
    truth: GroundTruth
    home: Home
    firing: list[Firing]

    def incident(self, name: str) -> Incident:
        return next(i for i in self.truth.incidents if i.name == name)


def signal_config(tmp: Path) -> Config:
    path = tmp / "fleetsignals.yml"
    path.write_text(f"signal_dirs: [{REPO / 'signals'}]\n", encoding="utf-8")
    return load_config(path)


def build_fleet(
    out: Path,
    *,
    hours: float,
    runs_per_minute: float,
    seed: int,
    incidents: list,
    judge_from: timedelta = timedelta(hours=1),
    tenants: int | None = None,
    signals: tuple[str, ...] = SHIPPED,
) -> BuiltFleet:
    truth = generate_fleet(
        out / "gen", start=START, hours=hours, runs_per_minute=runs_per_minute, seed=seed,
        incidents=incidents, tenants=tenants,
    )  # fmt: skip
    hourly = rotate_hourly(sorted(truth.dumps.rglob("*.jsonl")), out / "hourly")
    config = signal_config(out)
    home = Home(out / "home").ensure()
    summary = land_paths([hourly], home, config, settle_seconds=0)
    assert summary.quarantined == 0
    build(home, config)
    result = run_backtest(
        home, config, truth.start + judge_from, truth.end, timedelta(minutes=5), signals
    )
    assert not result.problems, [str(p) for p in result.problems]
    first: dict[tuple, Firing] = {}
    for record in result.records:
        if record["state"] != "firing":
            continue
        key = (record["signal"], tuple(sorted(record["labels"].items())))
        if key not in first:
            first[key] = Firing(record["signal"], record["labels"], record["eval_at"])
    return BuiltFleet(truth, home, list(first.values()))


def matches(incident: Incident, firing: Firing) -> bool:
    """Does an alert name the incident: its ground-truth labels, or, for a per-run alert,
    one of its runs and its tool? (An in-flight run has no root span yet, so its
    agent_name comes from the earliest span that carries one, which may be a sub-agent's.)"""
    if "run_id" in firing.labels:
        return firing.labels["run_id"] in set(incident.run_ids) and firing.labels.get(
            "tool_name"
        ) == incident.labels.get("tool_name")
    return all(firing.labels.get(k) == v for k, v in incident.labels.items())


def explained(fleet: BuiltFleet, firing: Firing) -> bool:
    """Is a firing instance its own signal's incident (during it, or its trailing windows)?"""
    return any(
        inc.signal == firing.signal
        and inc.start <= firing.first_at <= inc.end + GRACE
        and matches(inc, firing)
        for inc in fleet.truth.incidents
    )
