"""Labelled incidents: where they go in time, whom they hit, and how runs change.

One incident per shipped signal plus a control (``traffic_surge``) that must not
alert. Targets are drawn from the seed among well-trafficked candidates, so the
signals meet a different tool, agent, variant or cohort in every fleet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from fleetsignals.errors import FleetsignalsError
from fleetsignals.generate.shape import FleetShape
from fleetsignals.generate.simulate import RunPlan
from fleetsignals.timeutil import parse_duration

INCIDENTS: tuple[str, ...] = (
    "tool_failure",
    "cost_inflation",
    "silent_loops",
    "stuck_runs",
    "behaviour_drift",
    "traffic_surge",
)
SIGNALS: dict[str, str | None] = {
    "tool_failure": "correlated_failure",
    "cost_inflation": "p95_cost_jump",
    "silent_loops": "depth_tail",
    "stuck_runs": "stuck_agent",
    "behaviour_drift": "fingerprint_drift",
    "traffic_surge": None,
}

IncidentArg = str | tuple[str, object, object]


@dataclass
class Incident:
    name: str
    start: datetime
    end: datetime
    labels: dict[str, str] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)

    @property
    def signal(self) -> str | None:
        return SIGNALS[self.name]


def _check_name(name: str) -> str:
    if name not in INCIDENTS:
        raise FleetsignalsError(
            f"unknown incident {name!r}: choose from {', '.join(INCIDENTS)}, or all, or none"
        )
    return name


def _as_delta(value: object, what: str) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float | str):
        return parse_duration(value)
    raise FleetsignalsError(f"invalid {what} {value!r}: use a duration such as 90m or 2h")


def place(items: list[IncidentArg], start: datetime, hours: float, seed: int) -> list[Incident]:
    """Windows for the incidents: explicit (name, offset, duration) or automatic.

    Automatic placement keeps a healthy warm-up of 40 % of the fleet (at least
    30 min, at most 6 h) so baselines have history, then gives each incident an
    equal slot: it starts 10 % into its slot and lasts 60 % of it (15 to 90 min),
    leaving a quiet recovery gap before the next. The order is drawn from the seed.
    """
    auto = [_check_name(i) for i in items if isinstance(i, str)]
    placed: list[Incident] = []
    for item in items:
        if isinstance(item, str):
            continue
        name, offset, duration = item
        begin = start + _as_delta(offset, "incident offset")
        placed.append(Incident(_check_name(name), begin, begin + _as_delta(duration, "duration")))
    if len(set(auto) | {i.name for i in placed}) != len(items):
        raise FleetsignalsError("each incident may be listed once")
    total = timedelta(hours=hours)
    if auto:
        warm = min(max(0.4 * total, timedelta(minutes=30)), timedelta(hours=6))
        slot = (total - warm) / len(auto)
        if slot < timedelta(minutes=25):
            raise FleetsignalsError(
                f"{hours} h is too short for {len(auto)} incidents (each needs 25 min after a "
                f"warm-up of 40 %): use --hours {math.ceil(len(auto) * 25 / 60 / 0.6 + 0.5)} "
                "or more, or fewer incidents"
            )
        duration = min(max(0.6 * slot, timedelta(minutes=15)), timedelta(minutes=90))
        order = np.random.default_rng([seed, 5]).permutation(len(auto))
        for k, i in enumerate(order):
            begin = start + warm + k * slot + 0.1 * slot
            placed.append(Incident(auto[int(i)], begin, begin + duration))
    placed.sort(key=lambda x: x.start)
    for a, b in zip(placed, placed[1:], strict=False):
        if b.start < a.end:
            raise FleetsignalsError(
                f"incident windows overlap: {a.name} and {b.name}; give each a window of its "
                "own with NAME@OFFSET+DURATION"
            )
    for inc in placed:
        if inc.end <= inc.start or inc.start < start or inc.end > start + total:
            raise FleetsignalsError(f"incident {inc.name} must lie within the fleet's {hours} h")
    return placed


def _top(rng: np.random.Generator, candidates: list[tuple[float, tuple]]) -> tuple:
    """A candidate with at least 60 % of the busiest one's traffic, drawn from the seed,
    so the incident has enough runs for a signal to judge (thin traffic is the
    healthy fleet's job to exercise)."""
    ranked = sorted(candidates, key=lambda c: (-c[0], c[1]))
    keep = [c for c in ranked if c[0] >= 0.6 * ranked[0][0]]
    return keep[int(rng.integers(len(keep)))][1]


def target(inc: Incident, shape: FleetShape, rng: np.random.Generator) -> None:
    """Choose whom the incident hits (labels) and how hard (params)."""
    agents = shape.agents
    if inc.name == "tool_failure":
        cands = []
        for a in agents:
            for v, var in enumerate(a.variants):
                for t, tool in enumerate(a.tools):
                    share = a.weight * a.variant_weights[v] * var.tool_mix[t] * var.rounds_median
                    cands.append((float(share), (var.name, tool.name)))
        variant, tool = _top(rng, cands)
        inc.labels = {"tool_name": tool, "prompt_variant": variant}
        inc.params = {"error_rate": round(float(rng.uniform(0.35, 0.65)), 3)}
    elif inc.name == "cost_inflation":
        cohort_w = {t.cohort: 0.0 for t in shape.tenants}
        for t, w in zip(shape.tenants, shape.tenant_weights, strict=True):
            cohort_w[t.cohort] += float(w)
        cands = [(a.weight * w, (a.index, c)) for a in agents for c, w in sorted(cohort_w.items())]
        a, cohort = _top(rng, cands)
        inc.labels = {"agent_name": agents[a].name, "user_cohort": cohort}
        inc.params = {"cost_factor": round(float(rng.uniform(1.6, 2.5)), 3)}
    elif inc.name in ("silent_loops", "behaviour_drift"):
        cands = [
            (a.weight * a.variant_weights[v], (a.index, v))
            for a in agents
            for v in range(len(a.variants))
            if inc.name == "silent_loops" or len(a.tools) >= 2
        ]
        a, v = _top(rng, cands)
        agent = agents[a]
        inc.labels = {"agent_name": agent.name, "prompt_variant": agent.variants[v].name}
        if inc.name == "silent_loops":
            inc.params = {"fraction": round(float(rng.uniform(0.25, 0.4)), 3)}
        else:
            mix = agent.variants[v].tool_mix
            src = int(np.argmax(mix))
            dst = int(rng.choice([t for t in range(len(agent.tools)) if t != src]))
            inc.params = {
                "from_tool": agent.tools[src].name,
                "to_tool": agent.tools[dst].name,
                "share_moved": round(float(rng.uniform(0.3, 0.5)), 3),
            }
    elif inc.name == "stuck_runs":
        cands = [
            (a.weight * float(a.variants[0].tool_mix[t]), (a.index, t))
            for a in agents
            for t in range(len(a.tools))
        ]
        a, t = _top(rng, cands)
        inc.labels = {"agent_name": agents[a].name, "tool_name": agents[a].tools[t].name}
        inc.params = {"runs": int(rng.integers(4, 11))}
    elif inc.name == "traffic_surge":
        inc.params = {"multiplier": round(float(rng.uniform(3.0, 5.0)), 3)}


def _naive_ns(moment: datetime) -> int:
    epoch = datetime(1970, 1, 1)
    delta = moment - epoch
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def in_window(inc: Incident, plans: list[RunPlan]) -> list[RunPlan]:
    lo, hi = _naive_ns(inc.start), _naive_ns(inc.end)
    return [p for p in plans if lo <= p.start_ns < hi]


def apply(inc: Incident, shape: FleetShape, plans: list[RunPlan], rng: np.random.Generator) -> None:
    """Mark the runs in scope and give them the incident's behaviour."""
    agents = shape.agents
    scope = in_window(inc, plans)
    lab, par = inc.labels, inc.params
    chosen: list[RunPlan] = []
    if inc.name == "tool_failure":
        for p in scope:
            a = agents[p.agent]
            if p.dims.prompt_variant == lab["prompt_variant"] and any(
                t.name == lab["tool_name"] for t in a.tools
            ):
                p.tool_fail = (lab["tool_name"], float(par["error_rate"]))  # type: ignore[arg-type]
                chosen.append(p)
    elif inc.name == "cost_inflation":
        for p in scope:
            if p.dims.agent_name == lab["agent_name"] and p.dims.user_cohort == lab["user_cohort"]:
                p.cost_factor = float(par["cost_factor"])  # type: ignore[arg-type]
                chosen.append(p)
    elif inc.name == "silent_loops":
        for p in _matching(scope, lab):
            if rng.random() < float(par["fraction"]):  # type: ignore[arg-type]
                p.loop_steps = int(rng.integers(12, 31))
                chosen.append(p)
    elif inc.name == "behaviour_drift":
        for p in _matching(scope, lab):
            p.drift = (str(par["from_tool"]), str(par["to_tool"]), float(par["share_moved"]))  # type: ignore[arg-type]
            chosen.append(p)
    elif inc.name == "stuck_runs":
        # Stuck runs begin in the first two thirds of the window and loop for minutes.
        cutoff = _naive_ns(inc.start) + int(0.66 * (_naive_ns(inc.end) - _naive_ns(inc.start)))
        pool = [p for p in scope if p.dims.agent_name == lab["agent_name"] and p.start_ns < cutoff]
        n = min(len(pool), int(par["runs"]))  # type: ignore[arg-type]
        for i in sorted(rng.choice(len(pool), size=n, replace=False)) if n else []:
            p = pool[int(i)]
            p.stuck = (lab["tool_name"], int(rng.integers(20, 61)), bool(rng.random() < 0.3))
            chosen.append(p)
    elif inc.name == "traffic_surge":
        chosen = scope
    for p in chosen:
        p.incident = inc.name


def _matching(scope: list[RunPlan], lab: dict[str, str]) -> list[RunPlan]:
    return [
        p
        for p in scope
        if p.dims.agent_name == lab["agent_name"] and p.dims.prompt_variant == lab["prompt_variant"]
    ]
