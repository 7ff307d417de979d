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
# Incidents only generated when named: ``all`` (and so every existing seed's output) stays
# the six above.
OPTIONAL: tuple[str, ...] = ("tenant_cost_jump", "quality_drop")
KNOWN: tuple[str, ...] = INCIDENTS + OPTIONAL
SIGNALS: dict[str, str | None] = {
    "tool_failure": "correlated_failure",
    "cost_inflation": "p95_cost_jump",
    "silent_loops": "depth_tail",
    "stuck_runs": "stuck_agent",
    "behaviour_drift": "fingerprint_drift",
    "traffic_surge": None,
    "tenant_cost_jump": "p95_cost_jump",
    # Only the answers get worse: visible in quality labels alone (generate --labels).
    "quality_drop": "quality_drop",
}

# A name (placed automatically), or (name, offset, duration[, overrides]); offset and
# duration None mean automatic placement; overrides pin labels and params.
IncidentArg = str | tuple
LABEL_KEYS: dict[str, set[str]] = {
    "tool_failure": {"tool_name", "prompt_variant"},
    "cost_inflation": {"agent_name", "user_cohort"},
    "silent_loops": {"agent_name", "prompt_variant"},
    "stuck_runs": {"agent_name", "tool_name"},
    "behaviour_drift": {"agent_name", "prompt_variant"},
    "traffic_surge": set(),
    "tenant_cost_jump": {"agent_name", "tenant_id"},
    "quality_drop": {"agent_name", "prompt_variant"},
}


@dataclass
class Incident:
    name: str
    start: datetime
    end: datetime
    labels: dict[str, str] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)
    overrides: dict[str, object] = field(default_factory=dict)

    @property
    def signal(self) -> str | None:
        return SIGNALS[self.name]


def _check_name(name: str) -> str:
    if name not in KNOWN:
        raise FleetsignalsError(
            f"unknown incident {name!r}: choose from {', '.join(KNOWN)}, or all, or none"
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
    auto: list[tuple[str, dict]] = []
    placed: list[Incident] = []
    for item in items:
        if isinstance(item, str):
            auto.append((_check_name(item), {}))
            continue
        if not isinstance(item, tuple | list) or len(item) not in (3, 4):
            raise FleetsignalsError(
                f"invalid incident {item!r}: give a name or (name, offset, duration[, overrides])"
            )
        name, offset, duration = item[0], item[1], item[2]
        overrides = dict(item[3]) if len(item) == 4 else {}
        if offset is None and duration is None:
            auto.append((_check_name(name), overrides))
            continue
        begin = start + _as_delta(offset, "incident offset")
        end = begin + _as_delta(duration, "duration")
        placed.append(Incident(_check_name(name), begin, end, overrides=overrides))
    names = [n for n, _ in auto] + [i.name for i in placed]
    if len(set(names)) != len(names):
        raise FleetsignalsError("each incident may be listed once")
    total = timedelta(hours=hours)
    if auto:
        warm = min(max(0.4 * total, timedelta(minutes=30)), timedelta(hours=6))
        free = _free_time(start + warm, start + total, placed)
        slot = sum((b - a for a, b in free), timedelta()) / len(auto)
        # Slots never straddle an explicit window: shrink them until they all fit.
        while slot >= timedelta(minutes=25) and sum((b - a) // slot for a, b in free) < len(auto):
            slot *= 0.95
        if slot < timedelta(minutes=25):
            raise FleetsignalsError(
                f"{hours} h is too short for {len(auto)} incidents (each needs 25 min after a "
                f"warm-up of 40 %): use --hours {math.ceil(len(auto) * 25 / 60 / 0.6 + 0.5)} "
                "or more, or fewer incidents"
            )
        duration = min(max(0.6 * slot, timedelta(minutes=15)), timedelta(minutes=90))
        slots = [a + k * slot for a, b in free for k in range((b - a) // slot)]
        order = np.random.default_rng([seed, 5]).permutation(len(auto))
        for k, i in enumerate(order):
            begin = slots[k] + 0.1 * slot
            name, overrides = auto[int(i)]
            placed.append(Incident(name, begin, begin + duration, overrides=overrides))
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


def _free_time(
    lo: datetime, hi: datetime, taken: list[Incident]
) -> list[tuple[datetime, datetime]]:
    """[lo, hi) minus the explicit windows, as ordered intervals."""
    free, cursor = [], lo
    for inc in sorted(taken, key=lambda i: i.start):
        if inc.start > cursor:
            free.append((cursor, min(inc.start, hi)))
        cursor = max(cursor, inc.end)
    if cursor < hi:
        free.append((cursor, hi))
    return [(a, b) for a, b in free if b > a]


def _top(
    rng: np.random.Generator, name: str, candidates: list[tuple[float, dict]], want: dict
) -> dict:
    """Labels of a candidate with at least 60 % of the busiest one's traffic, drawn from
    the seed, so the incident has enough runs for a signal to judge (thin traffic is
    the healthy fleet's job to exercise). ``want`` pins some labels."""
    pool = [c for c in candidates if all(c[1].get(k) == v for k, v in want.items())]
    if not pool:
        raise FleetsignalsError(
            f"no target for {name} with {want} in this fleet: see the fleet's agents, "
            "variants, tools and cohorts in ground_truth.json (generate with --incidents none)"
        )
    ranked = sorted(pool, key=lambda c: (-c[0], sorted(c[1].items())))
    keep = [c for c in ranked if c[0] >= 0.6 * ranked[0][0]]
    return dict(keep[int(rng.integers(len(keep)))][1])


PARAMS = {
    "tool_failure": {"error_rate"},
    "cost_inflation": {"cost_factor"},
    "silent_loops": {"fraction"},
    "stuck_runs": {"runs"},
    "behaviour_drift": {
        "kind",
        "from_tool",
        "to_tool",
        "share_moved",
        "output_factor",
        "step_factor",
    },  # fmt: skip
    "traffic_surge": {"multiplier"},
    "tenant_cost_jump": {"cost_factor", "min_share"},
    "quality_drop": {"bad_factor"},
}
DRIFT_KINDS = ("tool_mix", "short_output", "step_shift")


def target(
    inc: Incident, shape: FleetShape, rng: np.random.Generator, overrides: dict | None = None
) -> None:
    """Choose whom the incident hits (labels) and how hard (params).

    ``overrides`` pins labels (e.g. ``agent_name``) and params (e.g. ``share_moved``)
    instead of drawing them; the draws still happen, so other incidents are unchanged.
    """
    agents = shape.agents
    overrides = dict(overrides or {})
    want = {k: overrides.pop(k) for k in LABEL_KEYS[inc.name] if k in overrides}
    unknown = set(overrides) - PARAMS[inc.name]
    if unknown:
        raise FleetsignalsError(
            f"unknown setting(s) {sorted(unknown)} for {inc.name}: use "
            f"{sorted(LABEL_KEYS[inc.name] | PARAMS[inc.name])}"
        )
    if inc.name == "tool_failure":
        cands = [
            (a.weight * a.variant_weights[v] * var.tool_mix[t] * var.rounds_median,
             {"tool_name": tool.name, "prompt_variant": var.name})
            for a in agents for v, var in enumerate(a.variants) for t, tool in enumerate(a.tools)
        ]  # fmt: skip
        inc.labels = _top(rng, inc.name, cands, want)
        inc.params = {"error_rate": round(float(rng.uniform(0.35, 0.65)), 3)}
    elif inc.name == "cost_inflation":
        cohort_w = {t.cohort: 0.0 for t in shape.tenants}
        for t, w in zip(shape.tenants, shape.tenant_weights, strict=True):
            cohort_w[t.cohort] += float(w)
        cands = [(a.weight * w, {"agent_name": a.name, "user_cohort": c})
                 for a in agents for c, w in sorted(cohort_w.items())]  # fmt: skip
        inc.labels = _top(rng, inc.name, cands, want)
        inc.params = {"cost_factor": round(float(rng.uniform(1.6, 2.5)), 3)}
    elif inc.name == "quality_drop":
        cands = [
            (a.weight * a.variant_weights[v], {"agent_name": a.name, "prompt_variant": var.name})
            for a in agents
            for v, var in enumerate(a.variants)
        ]
        inc.labels = _top(rng, inc.name, cands, want)
        inc.params = {"bad_factor": round(float(rng.uniform(3.0, 6.0)), 3)}
    elif inc.name in ("silent_loops", "behaviour_drift"):
        cands = [
            (a.weight * a.variant_weights[v], {"agent_name": a.name, "prompt_variant": var.name})
            for a in agents
            for v, var in enumerate(a.variants)
            if inc.name == "silent_loops" or len(a.tools) >= 2
        ]
        inc.labels = _top(rng, inc.name, cands, want)
        if inc.name == "silent_loops":
            inc.params = {"fraction": round(float(rng.uniform(0.25, 0.4)), 3)}
        else:
            agent = next(a for a in agents if a.name == inc.labels["agent_name"])
            var = next(v for v in agent.variants if v.name == inc.labels["prompt_variant"])
            src = int(np.argmax(var.tool_mix))
            dst = int(rng.choice([t for t in range(len(agent.tools)) if t != src]))
            inc.params = {
                "kind": "tool_mix",
                "from_tool": agent.tools[src].name,
                "to_tool": agent.tools[dst].name,
                "share_moved": round(float(rng.uniform(0.3, 0.5)), 3),
            }
            _check_drift(agent, overrides)
    elif inc.name == "stuck_runs":
        cands = [
            (a.weight * float(a.variants[0].tool_mix[t]), {"agent_name": a.name, "tool_name": tool.name})
            for a in agents for t, tool in enumerate(a.tools)
        ]  # fmt: skip
        inc.labels = _top(rng, inc.name, cands, want)
        inc.params = {"runs": int(rng.integers(4, 11))}
    elif inc.name == "traffic_surge":
        inc.params = {"multiplier": round(float(rng.uniform(3.0, 5.0)), 3)}
    elif inc.name == "tenant_cost_jump":
        inc.labels, inc.params = _tenant_target(shape, rng, want, overrides)
    inc.params.update(overrides)
    if inc.name == "behaviour_drift" and inc.params["kind"] != "tool_mix":
        # Another kind of drift: the tool-mix settings do not apply.
        kind = inc.params["kind"]
        inc.params = {"kind": kind}
        if kind == "short_output":
            inc.params["output_factor"] = float(overrides.get("output_factor", 0.5))
        else:
            inc.params["step_factor"] = float(overrides.get("step_factor", 1.5))


def _tenant_target(
    shape: FleetShape, rng: np.random.Generator, want: dict, overrides: dict
) -> tuple[dict, dict]:
    """One tenant of one busy agent: by default the smallest tenant still carrying
    ``min_share`` (5 %) of the agent's runs, the hardest case a tenant alert must catch
    (tenants are drawn independently of agents, so a tenant's share is its weight)."""
    min_share = float(overrides.get("min_share", 0.05))
    agent = _top(
        rng,
        "tenant_cost_jump",
        [(a.weight, {"agent_name": a.name}) for a in shape.agents],
        {k: v for k, v in want.items() if k == "agent_name"},
    )
    shares = {
        t.tenant_id: float(w) for t, w in zip(shape.tenants, shape.tenant_weights, strict=True)
    }
    if "tenant_id" in want:
        if want["tenant_id"] not in shares:
            raise FleetsignalsError(
                f"no tenant {want['tenant_id']!r} in this fleet: see the tenants in "
                "ground_truth.json (generate with --incidents none)"
            )
        tenant = want["tenant_id"]
    else:
        big = sorted((w, t) for t, w in shares.items() if w >= min_share)
        if not big:
            raise FleetsignalsError(
                f"no tenant carries {min_share:.0%} of the runs in this fleet: lower min_share "
                "or pin tenant_id"
            )
        tenant = big[0][1]
    factor = round(float(rng.uniform(1.6, 2.5)), 3)
    return {**agent, "tenant_id": tenant}, {"cost_factor": factor, "min_share": min_share}


def _check_drift(agent, overrides: dict) -> None:
    kind = overrides.get("kind", "tool_mix")
    if kind not in DRIFT_KINDS:
        raise FleetsignalsError(f"unknown drift kind {kind!r}: use one of {', '.join(DRIFT_KINDS)}")
    tools = {t.name for t in agent.tools}
    for key in ("from_tool", "to_tool"):
        if key in overrides and overrides[key] not in tools:
            raise FleetsignalsError(
                f"{agent.name} has no tool {overrides[key]!r} for {key}: use one of {sorted(tools)}"
            )


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
    elif inc.name == "tenant_cost_jump":
        for p in scope:
            if p.dims.agent_name == lab["agent_name"] and p.dims.tenant_id == lab["tenant_id"]:
                p.cost_factor = float(par["cost_factor"])  # type: ignore[arg-type]
                chosen.append(p)
    elif inc.name == "silent_loops":
        matching = _matching(scope, lab)
        picked = [p for p in matching if rng.random() < float(par["fraction"])]  # type: ignore[arg-type]
        # Thin traffic: still at least three looping runs (or all there are).
        spare = [p for p in matching if p not in picked]
        picked += spare[: max(0, min(3, len(matching)) - len(picked))]
        for p in sorted(picked, key=lambda p: (p.start_ns, p.key)):
            p.loop_steps = int(rng.integers(12, 31))
            chosen.append(p)
    elif inc.name == "behaviour_drift":
        for p in _matching(scope, lab):
            if par["kind"] == "short_output":
                p.output_factor = float(par["output_factor"])  # type: ignore[arg-type]
            elif par["kind"] == "step_shift":
                p.rounds_factor = float(par["step_factor"])  # type: ignore[arg-type]
            else:
                p.drift = (str(par["from_tool"]), str(par["to_tool"]), float(par["share_moved"]))  # type: ignore[arg-type]
            chosen.append(p)
    elif inc.name == "stuck_runs":
        # Stuck runs begin in the first two thirds of the window and loop for minutes.
        cutoff = _naive_ns(inc.start) + int(0.66 * (_naive_ns(inc.end) - _naive_ns(inc.start)))
        pool = [p for p in scope if p.dims.agent_name == lab["agent_name"] and p.start_ns < cutoff]
        n = min(len(pool), int(par["runs"]))  # type: ignore[arg-type]
        for k, i in enumerate(sorted(rng.choice(len(pool), size=n, replace=False)) if n else []):
            p = pool[int(i)]
            # Every third one (the first included) hangs and never ends; the rest hit
            # the agent's turn limit and fail minutes later.
            p.stuck = (lab["tool_name"], int(rng.integers(20, 61)), k % 3 == 0)
            chosen.append(p)
    elif inc.name == "quality_drop":
        # No span changes: only the labels of these runs (generate/labels.py) get worse.
        chosen = _matching(scope, lab)
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
