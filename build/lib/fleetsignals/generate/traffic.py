"""When runs start and who starts them: a diurnal, over-dispersed Poisson stream,
heavy-tailed tenants, users with sessions, agents, prompt variants, replicas.
"""

from __future__ import annotations

import bisect
import math
from datetime import datetime

import numpy as np

from fleetsignals.generate.shape import FleetShape
from fleetsignals.generate.simulate import RunPlan
from fleetsignals.generate.vocab import RunDims

NS = 1_000_000_000
MINUTE_NS = 60 * NS
SESSION_GAP_NS = 20 * MINUTE_NS  # a user's next run within this may continue the conversation


def diurnal(shape: FleetShape, start: datetime, minutes: np.ndarray) -> np.ndarray:
    """Traffic factor per minute (mean 1 over a day), peaking at the fleet's peak hour."""
    hour = (start.hour + start.minute / 60 + minutes / 60.0) % 24
    return 1 + shape.diurnal_amplitude * np.cos(2 * math.pi * (hour - shape.diurnal_peak_hour) / 24)


def arrivals(
    rng: np.random.Generator,
    shape: FleetShape,
    start: datetime,
    start_ns: int,
    end_ns: int,
    rate_per_minute: float,
) -> np.ndarray:
    """Sorted start times (ns) in [start_ns, end_ns) of a stream at the given mean rate."""
    minutes = math.ceil((end_ns - start_ns) / MINUTE_NS)
    if minutes <= 0 or rate_per_minute <= 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(minutes)
    # Minute-to-minute over-dispersion (gamma-Poisson), as real request streams show.
    lam = rate_per_minute * diurnal(shape, start, idx) * rng.gamma(25.0, 1 / 25.0, minutes)
    counts = rng.poisson(lam)
    minute_of = np.repeat(idx, counts)
    times = (
        start_ns + minute_of * MINUTE_NS + (rng.random(minute_of.size) * MINUTE_NS).astype(np.int64)
    )
    times = np.sort(times[times < end_ns])
    return times


def _cum(weights: np.ndarray) -> list[float]:
    c = np.cumsum(weights)
    return list(c / c[-1])


def assign(
    rng: np.random.Generator, shape: FleetShape, times: np.ndarray, key_base: int
) -> list[RunPlan]:
    """Give each start time an agent, variant, replica, tenant, user, cohort, session."""
    n = times.size
    agent_cum = _cum(np.array([a.weight for a in shape.agents]))
    tenant_idx = rng.choice(len(shape.tenants), size=n, p=shape.tenant_weights)
    u = rng.random((n, 5))
    session_hex = rng.integers(0, 2**63, size=n)
    variant_cums = [_cum(a.variant_weights) for a in shape.agents]
    workflow_cums = [_cum(a.workflow_weights) for a in shape.agents]
    resource_cums = [_cum(a.resource_weights) for a in shape.agents]  # type: ignore[arg-type]
    sessions: dict[tuple[str, int], tuple[int, str]] = {}
    plans = []
    for i in range(n):
        t = int(times[i])
        a = min(bisect.bisect_left(agent_cum, u[i, 0]), len(shape.agents) - 1)
        agent = shape.agents[a]
        v = min(bisect.bisect_left(variant_cums[a], u[i, 1]), len(agent.variants) - 1)
        w = min(bisect.bisect_left(workflow_cums[a], u[i, 2]), len(agent.workflows) - 1)
        r = min(bisect.bisect_left(resource_cums[a], u[i, 3]), len(agent.resources) - 1)
        tenant = shape.tenants[int(tenant_idx[i])]
        # A few users of a tenant do most of its runs.
        user = tenant.users[int(len(tenant.users) * u[i, 4] ** 2)]
        last = sessions.get((user, a))
        if last is not None and t - last[0] < SESSION_GAP_NS and (session_hex[i] & 0xFF) < 160:
            session = last[1]
        else:
            session = f"conv_{int(session_hex[i]):016x}"
        sessions[(user, a)] = (t, session)
        dims = RunDims(
            agent_name=agent.name,
            prompt_variant=agent.variants[v].name,
            workflow=agent.workflows[w],
            tenant_id=tenant.tenant_id,
            user_id=user,
            user_cohort=tenant.cohort,
            session_id=session,
        )
        plans.append(RunPlan(key_base + i, t, a, v, agent.resources[r], dims))
    return plans
