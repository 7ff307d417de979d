"""The contract's dimensions, in one place (docs/ingest.md, "What lands: one row per span").

Everything that lists dimensions derives from ``DIMENSIONS``: the config's defaults
(``fleetsignals.config``), ingest's span query and lake schema, the generator's ground
truth, and dbt, which reads them as the ``dimensions``, ``window_dimensions`` and ``per_agent_dimensions`` vars
that ``fleetsignals build`` passes (``dbt_project.yml`` holds the same defaults for a bare
``dbt build``; a test keeps the two equal). A new dimension is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass

RESOURCE_PREFIX = "resource:"


@dataclass(frozen=True)
class Dimension:
    """A dimension: its column name, default attribute keys (first present wins; keys
    prefixed ``resource:`` read the resource attributes), whether it is per LLM call
    rather than per run, whether the rolling-window marts group by it (low
    cardinality only: one window row per value), and whether its window groups are per
    agent (a prompt variant belongs to its agent: variant 1.5.0 of two agents is two
    groups)."""

    name: str
    keys: tuple[str, ...]
    per_call: bool = False
    windowed: bool = False
    per_agent: bool = False


# Contract order: it is the column order of every table that carries the run dimensions.
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("agent_name", ("gen_ai.agent.name", "agent.name", "resource:service.name"), windowed=True, per_agent=True),
    Dimension("prompt_variant", ("gen_ai.agent.version", "llm.prompt_template.version", "langfuse.prompt.version"), windowed=True, per_agent=True),
    Dimension("workflow", ("gen_ai.workflow.name",), windowed=True),
    Dimension("tenant_id", ("tenant.id",), windowed=True),
    Dimension("user_id", ("user.id", "enduser.id", "langfuse.user.id")),
    Dimension("user_cohort", ("user.cohort",), windowed=True),
    Dimension("session_id", ("gen_ai.conversation.id", "session.id")),
    Dimension("environment", ("resource:deployment.environment.name", "resource:deployment.environment")),
    Dimension("model", ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name"), per_call=True),
)  # fmt: skip

# Dimension -> default attribute keys, in contract order (the dbt var `dimensions`).
DIMENSION_KEYS: dict[str, list[str]] = {d.name: list(d.keys) for d in DIMENSIONS}
# The dimensions a run carries (all but the per-call model), in contract order.
RUN_DIMENSIONS: tuple[str, ...] = tuple(d.name for d in DIMENSIONS if not d.per_call)
# The dimensions the rolling-window marts group by (the dbt var `window_dimensions`).
WINDOW_DIMENSIONS: tuple[str, ...] = tuple(d.name for d in DIMENSIONS if d.windowed)
# The window dimensions whose groups are per agent (the dbt var `per_agent_dimensions`).
PER_AGENT_DIMENSIONS: tuple[str, ...] = tuple(d.name for d in DIMENSIONS if d.per_agent)
