"""The shape of a fleet, drawn from the seed: agents, prompt variants, models, tools,
tenants, users, cohorts and the processes (OTLP resources) that emit the spans.

Everything here varies with the seed, so tests and benchmarks meet many fleets,
not one memorised pattern.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fleetsignals.generate import catalog
from fleetsignals.generate.catalog import MODELS, ToolKind
from fleetsignals.generate.otlp import kv


@dataclass
class Variant:
    name: str
    tool_mix: np.ndarray  # probability of each of the agent's tools per call
    rounds_median: float  # median tool-calling rounds per run
    output_scale: float  # multiplies output tokens (terse or chatty prompts)


@dataclass
class Agent:
    index: int
    name: str
    vocab: str  # genai | legacy | openinference
    scope: tuple[str, str]  # scope of agent and tool spans
    variants: list[Variant]
    variant_weights: np.ndarray
    tools: list[ToolKind]
    tool_error_scale: float
    models: list[str]  # request model names; the first is the primary
    model_weights: np.ndarray
    workflows: list[str]
    workflow_weights: np.ndarray
    system_tokens: int
    rounds_sigma: float  # log-normal spread of rounds (heavy tail)
    parallel_p: float  # chance an LLM turn calls two or three tools at once
    cache_p: float  # chance a later call hits the provider's prompt cache
    sub_agent: str | None
    sub_agent_p: float
    root_usage: bool  # the agent span repeats the run's token totals
    propagate: bool  # children carry tenant/user/cohort/session too (baggage)
    root_ok: bool  # success sets status OK (else left UNSET)
    names_agent: bool  # the agent span names the agent (else only service.name does)
    extra_fail_p: float  # guardrail or validation failures at the end of a run
    weight: float  # traffic share
    resources: list[int] = field(default_factory=list)
    resource_weights: np.ndarray | None = None


@dataclass
class Resource:
    agent: int
    environment: str
    attributes: list[dict]  # OTLP KeyValue list
    schema_url: str


@dataclass
class Tenant:
    tenant_id: str
    cohort: str
    users: list[str]


@dataclass
class FleetShape:
    agents: list[Agent]
    resources: list[Resource]
    tenants: list[Tenant]
    tenant_weights: np.ndarray
    cohorts: list[str]
    cohort_context: dict[str, float]  # context size factor per cohort
    diurnal_amplitude: float
    diurnal_peak_hour: float
    export_delay_p: float  # share of exporter batches delayed by a retry


def _hex(rng: np.random.Generator, chars: int) -> str:
    return "".join(f"{b:02x}" for b in rng.integers(0, 256, chars // 2 + 1))[:chars]


def _pick(rng: np.random.Generator, pool: list, n: int) -> list:
    return [pool[i] for i in sorted(rng.choice(len(pool), size=n, replace=False))]


def build_shape(seed: int, tenants: int | None = None) -> FleetShape:
    """Draw a fleet from the seed (a fixed, documented stream: shape only)."""
    rng = np.random.default_rng([seed, 0])
    n_agents = int(rng.integers(3, 7))
    names = [catalog.AGENT_NAMES[i] for i in rng.choice(len(catalog.AGENT_NAMES), n_agents, False)]
    vocabs = ["genai"] * n_agents
    vocabs[int(rng.integers(n_agents))] = "openinference"
    if n_agents >= 4 and rng.random() < 0.5:  # a second OpenInference agent
        vocabs[(vocabs.index("openinference") + 1) % n_agents] = "openinference"
    if rng.random() < 0.5:  # one team still on the pre-1.37 GenAI names
        rest = [i for i, v in enumerate(vocabs) if v == "genai"]
        vocabs[rest[int(rng.integers(len(rest)))]] = "legacy"
    # Heavy-tailed traffic between agents, but every agent has some.
    agent_weights = rng.dirichlet(np.full(n_agents, 1.5)) + 0.05
    agent_weights /= agent_weights.sum()

    agents = []
    for i, name in enumerate(names):
        agents.append(_build_agent(rng, i, name, vocabs[i], float(agent_weights[i])))

    resources = _build_resources(rng, agents)
    cohorts = list(catalog.COHORT_SCHEMES[int(rng.integers(len(catalog.COHORT_SCHEMES)))])
    # Higher tiers bring bigger documents and histories: more context per run.
    cohort_context = {
        c: float(1.0 + 0.25 * k * rng.uniform(0.5, 1.5)) for k, c in enumerate(cohorts)
    }
    tenant_list, tenant_weights = _build_tenants(rng, cohorts, tenants)
    return FleetShape(
        agents=agents,
        resources=resources,
        tenants=tenant_list,
        tenant_weights=tenant_weights,
        cohorts=cohorts,
        cohort_context=cohort_context,
        diurnal_amplitude=float(rng.uniform(0.2, 0.5)),
        diurnal_peak_hour=float(rng.uniform(12.0, 18.0)),
        export_delay_p=float(rng.uniform(0.01, 0.04)),
    )


def _build_agent(
    rng: np.random.Generator, index: int, name: str, vocab: str, weight: float
) -> Agent:
    n_tools = int(rng.integers(3, 8))
    tools = _pick(rng, catalog.TOOLS, n_tools)
    scheme = catalog.VARIANT_SCHEMES[int(rng.integers(len(catalog.VARIANT_SCHEMES)))]
    n_variants = int(rng.integers(1, 4))
    start = int(rng.integers(0, len(scheme) - n_variants + 1))
    base_mix = rng.dirichlet(np.full(n_tools, 1.2))
    rounds = float(rng.uniform(1.5, 4.5))
    variants = []
    for v in range(n_variants):
        # Variants of one agent are alike but not identical.
        mix = 0.75 * base_mix + 0.25 * rng.dirichlet(np.full(n_tools, 2.0))
        variants.append(
            Variant(
                name=scheme[start + v],
                tool_mix=mix / mix.sum(),
                rounds_median=rounds * float(rng.uniform(0.8, 1.25)),
                output_scale=float(rng.uniform(0.7, 1.4)),
            )
        )
    # The newest variant is usually a rollout: a minority of traffic.
    vw = rng.dirichlet(np.full(n_variants, 2.0)) + 0.1
    vw /= vw.sum()

    primary = catalog.PRIMARY_MODELS[int(rng.integers(len(catalog.PRIMARY_MODELS)))]
    providers = {MODELS[primary].provider}
    models = [primary]
    for m in rng.permutation(catalog.SECONDARY_MODELS):
        if len(models) >= int(rng.integers(2, 4)):
            break
        if MODELS[str(m)].provider not in providers:
            models.append(str(m))
            providers.add(MODELS[str(m)].provider)
    mw = np.array([float(rng.uniform(0.6, 0.85))] + [0.0] * (len(models) - 1))
    if len(models) > 1:
        mw[1:] = (1 - mw[0]) * rng.dirichlet(np.ones(len(models) - 1))

    n_workflows = int(rng.integers(1, 4))
    workflows = _pick(rng, catalog.WORKFLOWS, n_workflows)
    ww = rng.dirichlet(np.full(n_workflows, 2.0))

    if vocab == "openinference":
        scope = catalog.OPENINFERENCE_SCOPES[int(rng.integers(len(catalog.OPENINFERENCE_SCOPES)))]
    else:
        scope = catalog.GENAI_FRAMEWORKS[int(rng.integers(len(catalog.GENAI_FRAMEWORKS)))]
    has_sub = rng.random() < 0.4
    return Agent(
        index=index,
        name=name,
        vocab=vocab,
        scope=scope,
        variants=variants,
        variant_weights=vw,
        tools=tools,
        tool_error_scale=float(rng.uniform(0.6, 1.4)),
        models=models,
        model_weights=mw,
        workflows=workflows,
        workflow_weights=ww,
        system_tokens=int(rng.integers(600, 5000)),
        rounds_sigma=float(rng.uniform(0.45, 0.8)),
        parallel_p=float(rng.uniform(0.0, 0.3)),
        cache_p=float(rng.uniform(0.5, 0.95)),
        sub_agent=str(catalog.SUB_AGENT_NAMES[int(rng.integers(len(catalog.SUB_AGENT_NAMES)))])
        if has_sub
        else None,
        sub_agent_p=float(rng.uniform(0.1, 0.5)) if has_sub else 0.0,
        root_usage=vocab == "genai" and rng.random() < 0.4,
        propagate=rng.random() < 0.5,
        root_ok=rng.random() < 0.5,
        names_agent=vocab != "openinference" or rng.random() < 0.5,
        extra_fail_p=float(rng.uniform(0.006, 0.02)),
        weight=weight,
    )


def _build_resources(rng: np.random.Generator, agents: list[Agent]) -> list[Resource]:
    resources: list[Resource] = []
    for agent in agents:
        language = "python" if agent.vocab != "genai" or rng.random() < 0.7 else "nodejs"
        sdk_version = "1.38.0" if language == "python" else "2.1.0"
        version = f"{int(rng.integers(1, 4))}.{int(rng.integers(0, 20))}.{int(rng.integers(0, 10))}"
        placements = [("production", int(rng.integers(1, 4)))]
        if rng.random() < 0.35:
            placements.append(("staging", 1))
        weights = []
        for environment, replicas in placements:
            for _ in range(replicas):
                attrs = [
                    kv("service.name", agent.name),
                    kv("service.version", version),
                    kv("service.instance.id", _hex(rng, 32)),
                    kv("deployment.environment.name", environment),
                    kv("telemetry.sdk.name", "opentelemetry"),
                    kv("telemetry.sdk.language", language),
                    kv("telemetry.sdk.version", sdk_version),
                    kv("host.name", f"{agent.name.replace('_', '-')}-{_hex(rng, 5)}"),
                    kv("k8s.namespace.name", f"agents-{environment[:4]}"),
                ]
                agent.resources.append(len(resources))
                resources.append(
                    Resource(
                        agent.index, environment, attrs, "https://opentelemetry.io/schemas/1.37.0"
                    )
                )
                # Staging sees a trickle of traffic; production replicas share the rest.
                weights.append(0.04 if environment == "staging" else 1.0)
        w = np.array(weights)
        agent.resource_weights = w / w.sum()
    return resources


def _build_tenants(
    rng: np.random.Generator, cohorts: list[str], count: int | None
) -> tuple[list[Tenant], np.ndarray]:
    drawn = int(rng.integers(20, 160))
    # ``count`` asks for a long tail (hundreds of tenants); the draw above still happens,
    # so without it every seed's fleet is what it always was.
    n = drawn if count is None else count
    # Zipf-like shares: a few tenants carry most of the traffic.
    s = rng.uniform(0.9, 1.4)
    weights = 1.0 / np.arange(1, n + 1) ** s
    rng.shuffle(weights)
    weights /= weights.sum()
    # Lower tiers are more numerous (but each small).
    tier_p = np.array([0.5**k for k in range(len(cohorts))])
    tier_p /= tier_p.sum()
    tenants = []
    for _ in range(n):
        cohort = cohorts[int(rng.choice(len(cohorts), p=tier_p))]
        n_users = int(min(400, 1 + rng.lognormal(1.6, 1.0)))
        tid = f"tn-{_hex(rng, 6)}"
        tenants.append(Tenant(tid, cohort, [f"usr-{_hex(rng, 10)}" for _ in range(n_users)]))
    return tenants, weights
