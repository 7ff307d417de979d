"""Simulated fleets for bench/fingerprint.py: the generator's own run simulator, fast.

The benchmark needs tens of thousands of runs per trial, so it drives the
generator's building blocks (fleet shape, diurnal traffic, RunSimulator)
directly and turns each simulated run into its fct_run_fingerprints features
with fleetsignals.fingerprints.reference (which tests/fingerprints checks
against the SQL mart). Two shortcuts, neither of which changes a feature:
span attributes are not built (the simulator's random stream does not depend
on them) and nothing is written to disk.

Graded drift is a documented transform of a prompt variant, from a start time on:
- ``tool_mix`` s: the variant's tool distribution moves a total-variation
  distance of s (share s of all tool calls go to one other tool, taken from
  all tools in proportion);
- ``output`` s: the variant's output tokens shrink by s (a truncated prompt);
- ``steps`` s: the variant's median number of tool-calling rounds grows by s.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

import numpy as np

import fleetsignals.generate.simulate as simulate
from fleetsignals.fingerprints.drift import PairRuns, to_us
from fleetsignals.fingerprints.features import SCALAR_FEATURES, transform_scalars
from fleetsignals.fingerprints.reference import RunCalls, ToolCall, run_features
from fleetsignals.generate import traffic
from fleetsignals.generate.shape import Agent, FleetShape, build_shape

START = datetime(2026, 11, 1)
NS = 1_000_000_000


def _no_attributes() -> None:
    """Skip span attribute construction (about 60 % of the simulator's time)."""
    simulate.vocab = SimpleNamespace(  # type: ignore[assignment]
        llm_span=lambda agent, d, model, *a, **k: ("", 0, [], {}, model),
        tool_span=lambda *a, **k: ("", 0, [], {}),
        http_span=lambda *a, **k: ("", 0, []),
        root_span=lambda *a, **k: ("", 0, [], {}),
        sub_agent_span=lambda *a, **k: ("", 0, [], {}),
    )
    simulate.span_json = lambda *a, **kw: {"spanId": kw["span_id"]}  # type: ignore[assignment]


_no_attributes()


@dataclass(frozen=True)
class Drift:
    kind: str  # tool_mix | output | steps
    strength: float
    minutes: int = 60  # how long the drift lasts

    @property
    def label(self) -> str:
        pct = f"{self.strength:.0%}"
        text = {
            "tool_mix": f"tool mix shift {pct}",
            "output": f"outputs {pct} shorter",
            "steps": f"tool rounds +{pct}",
        }[self.kind]
        return text if self.minutes == 60 else f"{text}, {self.minutes} min"


def drifted_agent(agent: Agent, drift: Drift, rng: np.random.Generator) -> Agent:
    """A copy of ``agent`` whose every variant has the drift applied."""
    out = copy.deepcopy(agent)
    for variant in out.variants:
        if drift.kind == "tool_mix":
            mix = variant.tool_mix
            others = [t for t in range(len(mix)) if t != int(np.argmax(mix))]
            dst = int(rng.choice(others))
            s = min(drift.strength, 1 - mix[dst])
            moved = mix * (1 - s / (1 - mix[dst]))
            moved[dst] = mix[dst] + s
            variant.tool_mix = moved
        elif drift.kind == "output":
            variant.output_scale *= 1 - drift.strength
        elif drift.kind == "steps":
            variant.rounds_median *= 1 + drift.strength
        else:
            raise ValueError(drift.kind)
    return out


@dataclass
class SimRun:
    run_id: str
    agent_name: str
    prompt_variant: str
    started_us: int
    ended_us: int
    features: dict[str, object]


def _ns(moment: datetime) -> int:
    return to_us(moment) * 1000


def plans_for(shape: FleetShape, seed: int, hours: float, rpm: float) -> list:
    start_ns = _ns(START)
    times = traffic.arrivals(
        np.random.default_rng([seed, 2]), shape, START, start_ns,
        start_ns + int(hours * 3600) * NS, rpm,
    )  # fmt: skip
    return traffic.assign(np.random.default_rng([seed, 1]), shape, times, 0)


def simulate_runs(shape: FleetShape, seed: int, plans: list, agents: list[Agent]) -> list[SimRun]:
    """Simulate ``plans`` with the given agents; completed runs only (hung runs never end)."""
    runs = []
    for plan in plans:
        i = plan.key
        plan = copy.copy(plan)
        plan.spans = []
        agent = agents[plan.agent]
        sim = simulate.RunSimulator(
            plan, i, agent, seed, shape.cohort_context[plan.dims.user_cohort]
        )
        spans = sim.run().spans
        root = next((s for s in spans if s.is_root), None)
        if root is None:
            continue
        tools = sorted(
            (s for s in spans if s.op == "tool"),
            key=lambda s: (s.start_ns // 1000, s.json["spanId"]),
        )
        llm = [s for s in spans if s.op == "llm"]
        calls = RunCalls(
            tool_calls=[ToolCall(s.tool or "(unknown)", s.error) for s in tools],
            llm_call_count=len(llm),
            input_tokens=sum(s.input_tokens for s in llm),
            output_tokens=sum(s.output_tokens for s in llm),
            duration_ms=(root.end_ns - root.start_ns) / 1e6,
        )
        runs.append(
            SimRun(
                plan.run_id,
                plan.dims.agent_name,
                plan.dims.prompt_variant,
                plan.start_ns // 1000,
                root.end_ns // 1000,
                run_features(calls),
            )  # fmt: skip
        )
    return runs


def to_pairs(runs: list[SimRun]) -> dict[tuple[str, str], PairRuns]:
    """Group simulated runs into the drift engine's per-pair arrays."""
    groups: dict[tuple[str, str], list[SimRun]] = {}
    for r in runs:
        groups.setdefault((r.agent_name, r.prompt_variant), []).append(r)
    pairs = {}
    for key, items in groups.items():
        items.sort(key=lambda r: r.ended_us)
        tools = sorted({t for r in items for t in r.features["tool_shares"]})  # type: ignore[union-attr]
        col = {t: j for j, t in enumerate(tools)}
        shares = np.zeros((len(items), len(tools)))
        for i, r in enumerate(items):
            for t, v in r.features["tool_shares"].items():  # type: ignore[union-attr]
                shares[i, col[t]] = v
        scalars = transform_scalars(
            {
                name: np.array([r.features[name] for r in items], dtype=float)
                for name in SCALAR_FEATURES
            }
        )
        pairs[key] = PairRuns(
            key[0], key[1], np.array([r.run_id for r in items], dtype=object),
            np.array([r.ended_us for r in items], dtype=np.int64), scalars, shares,
            tool_calls=np.array([r.features["tool_call_count"] for r in items], dtype=float),
        )  # fmt: skip
    return pairs


@dataclass
class Fleet:
    seed: int
    shape: FleetShape
    plans: list
    healthy: list[SimRun]


def healthy_fleet(seed: int, hours: float, rpm: float) -> Fleet:
    shape = build_shape(seed)
    plans = plans_for(shape, seed, hours, rpm)
    return Fleet(seed, shape, plans, simulate_runs(shape, seed, plans, shape.agents))


def hour_us(hours: float) -> int:
    return to_us(START + timedelta(hours=hours))


def drifted_runs(fleet: Fleet, drift: Drift, starts_h: list[float], hours: float) -> list[SimRun]:
    """The fleet's runs that start in [s, s + hours) for each s, simulated with ``drift``.

    Each run keeps its own random stream, so a drifted run differs from its
    healthy twin only by what the drift changes.
    """
    rng = np.random.default_rng([fleet.seed, 99, int(drift.strength * 100)])
    agents = [drifted_agent(a, drift, rng) for a in fleet.shape.agents]
    spans = [(hour_us(s) * 1000, hour_us(s + hours) * 1000) for s in starts_h]
    chosen = [p for p in fleet.plans if any(lo <= p.start_ns < hi for lo, hi in spans)]
    return simulate_runs(fleet.shape, fleet.seed, chosen, agents)
