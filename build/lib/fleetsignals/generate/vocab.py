"""Span names and attributes in the vocabularies real agents emit.

- ``genai``: OTel GenAI semantic conventions >= 1.37 (gen_ai.provider.name, ...).
- ``legacy``: the pre-1.37 names (gen_ai.system, gen_ai.usage.prompt_tokens, ...),
  with no cache-read counts.
- ``openinference``: Arize OpenInference (openinference.span.kind, llm.*, tool.*).

Each builder returns the attributes plus the contract dimensions they carry
(``dims``), so the ground truth can resolve dimensions exactly as the contract says.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from fleetsignals.generate.catalog import MODELS, OI_LLM_NAMES
from fleetsignals.generate.otlp import KIND_CLIENT, KIND_INTERNAL, kv, kv_unique
from fleetsignals.generate.shape import Agent

FINISH = {f: kv("gen_ai.response.finish_reasons", [f]) for f in ("stop", "tool_calls", "length")}


@dataclass(slots=True)
class RunDims:
    agent_name: str
    prompt_variant: str
    workflow: str
    tenant_id: str
    user_id: str
    user_cohort: str
    session_id: str


def _who(agent: Agent, d: RunDims) -> tuple[list[dict], dict[str, str]]:
    """Tenant, user, cohort and session attributes (root; children when propagated)."""
    session_key = "session.id" if agent.vocab == "openinference" else "gen_ai.conversation.id"
    attrs = [
        kv("tenant.id", d.tenant_id),
        kv("user.id", d.user_id),
        kv("user.cohort", d.user_cohort),
        kv(session_key, d.session_id),
    ]
    dims = {
        "tenant_id": d.tenant_id,
        "user_id": d.user_id,
        "user_cohort": d.user_cohort,
        "session_id": d.session_id,
    }
    return attrs, dims


def root_span(
    agent: Agent, d: RunDims, input_tokens: int, output_tokens: int, user_text: str
) -> tuple[str, int, list[dict], dict[str, str]]:
    who, dims = _who(agent, d)
    dims = dict(dims)
    if agent.vocab == "openinference":
        attrs = [kv("openinference.span.kind", "AGENT")]
        if agent.names_agent:
            attrs.append(kv("agent.name", d.agent_name))
            dims["agent_name"] = d.agent_name
        attrs += [
            kv("llm.prompt_template.version", d.prompt_variant),
            kv("input.value", user_text),
            kv("input.mime_type", "text/plain"),
            *who,
        ]
        dims["prompt_variant"] = d.prompt_variant
        return d.agent_name, KIND_INTERNAL, attrs, dims
    attrs = [
        kv("gen_ai.operation.name", "invoke_agent"),
        kv("gen_ai.agent.name", d.agent_name),
        kv("gen_ai.agent.id", f"asst_{d.agent_name}"),
        kv("gen_ai.agent.version", d.prompt_variant),
        kv("gen_ai.workflow.name", d.workflow),
        *who,
    ]
    dims.update(agent_name=d.agent_name, prompt_variant=d.prompt_variant, workflow=d.workflow)
    if agent.root_usage:
        # Some frameworks repeat the run's totals on the agent span; the contract sums
        # LLM calls only, so these must not be counted twice.
        if agent.vocab == "legacy":
            attrs += [
                kv("gen_ai.usage.prompt_tokens", input_tokens),
                kv("gen_ai.usage.completion_tokens", output_tokens),
            ]
        else:
            attrs += [
                kv("gen_ai.usage.input_tokens", input_tokens),
                kv("gen_ai.usage.output_tokens", output_tokens),
            ]
    return f"invoke_agent {d.agent_name}", KIND_INTERNAL, attrs, dims


def sub_agent_span(agent: Agent, name: str) -> tuple[str, int, list[dict], dict[str, str]]:
    if agent.vocab == "openinference":
        return name, KIND_INTERNAL, [kv("openinference.span.kind", "AGENT")], {}
    attrs = [kv("gen_ai.operation.name", "invoke_agent"), kv("gen_ai.agent.name", name)]
    return f"invoke_agent {name}", KIND_INTERNAL, attrs, {"agent_name": name}


def llm_span(
    agent: Agent,
    d: RunDims,
    model_name: str,
    ok: bool,
    input_tokens: int,
    output_tokens: int,
    cache_read: int,
    finish: str,
    response_id: str,
    error_type: str,
    *,
    cache_write: int = 0,
    reasoning: int = 0,
) -> tuple[str, int, list[dict], dict[str, str], str]:
    """Returns name, kind, attributes, dims and the model the contract resolves."""
    m = MODELS[model_name]
    dims: dict[str, str] = {}
    if agent.vocab == "openinference":
        model = m.response if ok else m.request
        attrs = [
            kv("openinference.span.kind", "LLM"),
            kv("llm.model_name", model),
            kv("llm.provider", m.oi_provider),
            kv("llm.system", m.oi_provider),
            kv("llm.invocation_parameters", '{"temperature": 0.2, "max_tokens": 4096}'),
            kv("llm.prompt_template.version", d.prompt_variant),
        ]
        dims["prompt_variant"] = d.prompt_variant
        if ok:
            attrs += [
                kv("llm.token_count.prompt", input_tokens),
                kv("llm.token_count.completion", output_tokens),
                kv("llm.token_count.total", input_tokens + output_tokens),
            ]
            if cache_read:
                attrs.append(kv("llm.token_count.prompt_details.cache_read", cache_read))
            if cache_write:
                attrs.append(kv("llm.token_count.prompt_details.cache_write", cache_write))
            if reasoning:
                attrs.append(kv("llm.token_count.completion_details.reasoning", reasoning))
        name = OI_LLM_NAMES[m.oi_provider]
        kind = KIND_INTERNAL
    else:
        legacy = agent.vocab == "legacy"
        attrs = [
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.system", m.legacy_system)
            if legacy
            else kv("gen_ai.provider.name", m.provider),
            kv("gen_ai.request.model", m.request),
            kv("gen_ai.request.temperature", 0.2),
            kv("gen_ai.request.max_tokens", 4096),
            kv("server.address", m.server),
            kv("server.port", 443),
        ]
        model = m.request
        if ok:
            model = m.response
            attrs += [
                kv("gen_ai.response.model", m.response),
                kv_unique("gen_ai.response.id", response_id),
                FINISH[finish],
            ]
            if legacy:
                attrs += [
                    kv("gen_ai.usage.prompt_tokens", input_tokens),
                    kv("gen_ai.usage.completion_tokens", output_tokens),
                ]
            else:
                attrs += [
                    kv("gen_ai.usage.input_tokens", input_tokens),
                    kv("gen_ai.usage.output_tokens", output_tokens),
                ]
                if cache_read:
                    attrs.append(kv("gen_ai.usage.cache_read.input_tokens", cache_read))
                if cache_write:
                    attrs.append(kv("gen_ai.usage.cache_creation.input_tokens", cache_write))
                if reasoning:
                    attrs.append(kv("gen_ai.usage.reasoning.output_tokens", reasoning))
        else:
            attrs.append(kv("error.type", error_type))
        name = f"chat {m.request}"
        kind = KIND_CLIENT
    if agent.propagate:
        who, wdims = _who(agent, d)
        attrs += who
        dims.update(wdims)
    return name, kind, attrs, dims, model


def tool_span(
    agent: Agent,
    d: RunDims,
    tool: str,
    call_id: str,
    arguments: dict,
    error_type: str | None,
) -> tuple[str, int, list[dict], dict[str, str]]:
    args = orjson.dumps(arguments).decode()
    dims: dict[str, str] = {}
    if agent.vocab == "openinference":
        attrs = [
            kv("openinference.span.kind", "TOOL"),
            kv("tool.name", tool),
            kv_unique("tool_call.id", call_id),
            kv_unique("input.value", args),
            kv("input.mime_type", "application/json"),
        ]
        name = tool
    else:
        attrs = [
            kv("gen_ai.operation.name", "execute_tool"),
            kv("gen_ai.tool.name", tool),
            kv("gen_ai.tool.type", "function"),
            kv_unique("gen_ai.tool.call.id", call_id),
            kv_unique("gen_ai.tool.call.arguments", args),
        ]
        if error_type:
            attrs.append(kv("error.type", error_type))
        name = f"execute_tool {tool}"
    if agent.propagate:
        who, wdims = _who(agent, d)
        attrs += who
        dims.update(wdims)
    return name, KIND_INTERNAL, attrs, dims


def http_span(host: str, path: str, status_code: int) -> tuple[str, int, list[dict]]:
    """The HTTP client span under a tool that calls a service: not a step."""
    method = "POST" if path.startswith("/v1") else "GET"
    attrs = [
        kv("http.request.method", method),
        kv("url.full", f"https://{host}{path}"),
        kv("server.address", host),
        kv("server.port", 443),
        kv("http.response.status_code", status_code),
    ]
    if status_code >= 500:
        attrs.append(kv("error.type", str(status_code)))
    return method, KIND_CLIENT, attrs
