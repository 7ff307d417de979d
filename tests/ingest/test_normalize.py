"""Normalized fields from the OTel GenAI (current and pre-1.37) and OpenInference vocabularies."""

from __future__ import annotations

import orjson
import pytest

from tests.fixtures.ingest_inputs import attr, jsonl, lake_rows, request, span, write


def land_attrs(home, land, tmp_path, attributes, resource=None, config_text="") -> dict:
    message = request([span(1, 0, attributes=attributes)], resource=resource)
    summary = land(write(tmp_path / "in.jsonl", jsonl([message])), config_text=config_text)
    assert summary.quarantined == 0, summary.reasons
    (row,) = lake_rows(home)
    return row


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ([attr("gen_ai.operation.name", "chat")], "llm"),
        ([attr("gen_ai.operation.name", "text_completion")], "llm"),
        ([attr("gen_ai.operation.name", "generate_content")], "llm"),
        ([attr("gen_ai.operation.name", "embeddings")], "llm"),
        ([attr("gen_ai.operation.name", "execute_tool")], "tool"),
        ([attr("gen_ai.operation.name", "invoke_agent")], "agent"),
        ([attr("gen_ai.operation.name", "create_agent")], "agent"),
        ([attr("openinference.span.kind", "LLM")], "llm"),
        ([attr("openinference.span.kind", "EMBEDDING")], "llm"),
        ([attr("openinference.span.kind", "TOOL")], "tool"),
        ([attr("openinference.span.kind", "AGENT")], "agent"),
        ([attr("openinference.span.kind", "CHAIN")], "other"),
        ([attr("http.method", "GET")], "other"),
    ],
)
def test_operation_class(home, land, tmp_path, attributes, expected) -> None:
    assert land_attrs(home, land, tmp_path, attributes)["operation"] == expected


def test_current_genai_names(home, land, tmp_path) -> None:
    row = land_attrs(
        home,
        land,
        tmp_path,
        [
            attr("gen_ai.operation.name", "chat"),
            attr("gen_ai.provider.name", "anthropic"),
            attr("gen_ai.request.model", "claude-x"),
            attr("gen_ai.response.model", "claude-x-2026"),
            attr("gen_ai.usage.input_tokens", 1200),
            attr("gen_ai.usage.output_tokens", 300),
            attr("gen_ai.usage.cache_read.input_tokens", 1000),
            attr("gen_ai.usage.cache_creation.input_tokens", 100),
            attr("gen_ai.usage.reasoning.output_tokens", 50),
            attr("gen_ai.usage.cost", 0.0123),
            attr("gen_ai.agent.name", "planner"),
            attr("gen_ai.agent.version", "v7"),
            attr("gen_ai.workflow.name", "refund"),
            attr("gen_ai.conversation.id", "conv-1"),
        ],
    )
    assert row["model"] == "claude-x-2026"  # response model wins over request model
    assert row["provider"] == "anthropic"
    assert (row["input_tokens"], row["output_tokens"]) == (1200, 300)
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (1000, 100)
    assert row["reasoning_tokens"] == 50
    assert row["cost_usd"] == pytest.approx(0.0123)
    assert (row["agent_name"], row["prompt_variant"], row["workflow"]) == (
        "planner",
        "v7",
        "refund",
    )
    assert row["session_id"] == "conv-1"


def test_pre_137_genai_names(home, land, tmp_path) -> None:
    row = land_attrs(
        home,
        land,
        tmp_path,
        [
            attr("gen_ai.system", "openai"),
            attr("gen_ai.request.model", "gpt-4o"),
            attr("gen_ai.usage.prompt_tokens", 10),
            attr("gen_ai.usage.completion_tokens", 5),
            attr("gen_ai.usage.cache_read_input_tokens", 4),
            attr("gen_ai.usage.cache_creation_input_tokens", 2),
        ],
    )
    assert (row["provider"], row["model"]) == ("openai", "gpt-4o")
    assert (row["input_tokens"], row["output_tokens"]) == (10, 5)
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (4, 2)
    assert row["cost_usd"] is None


def test_openinference_names(home, land, tmp_path) -> None:
    row = land_attrs(
        home,
        land,
        tmp_path,
        [
            attr("openinference.span.kind", "LLM"),
            attr("llm.system", "openai"),
            attr("llm.provider", "azure"),
            attr("llm.model_name", "gpt-4.1"),
            attr("llm.token_count.prompt", 100),
            attr("llm.token_count.completion", 20),
            attr("llm.token_count.prompt_details.cache_read", 60),
            attr("llm.token_count.prompt_details.cache_write", 7),
            attr("llm.token_count.completion_details.reasoning", 3),
            attr("llm.cost.total", 0.5),
            attr("session.id", "s-9"),
            attr("user.id", "u-1"),
        ],
    )
    assert (row["provider"], row["model"]) == ("azure", "gpt-4.1")  # llm.provider before llm.system
    assert (row["input_tokens"], row["output_tokens"]) == (100, 20)
    assert (row["cache_read_tokens"], row["cache_write_tokens"], row["reasoning_tokens"]) == (
        60,
        7,
        3,
    )
    assert row["cost_usd"] == 0.5
    assert (row["session_id"], row["user_id"]) == ("s-9", "u-1")


def test_tool_fields_and_args_hash(home, land, tmp_path) -> None:
    args = '{"city": "Paris"}'
    spans = [
        span(
            1,
            0,
            attributes=[
                attr("gen_ai.operation.name", "execute_tool"),
                attr("gen_ai.tool.name", "weather"),
                attr("gen_ai.tool.call.id", "c1"),
                attr("gen_ai.tool.call.arguments", args),
            ],
        ),
        span(
            1,
            1,
            attributes=[
                attr("gen_ai.operation.name", "execute_tool"),
                attr("gen_ai.tool.name", "weather"),
                attr("gen_ai.tool.call.arguments", args),
            ],
        ),
        span(
            1,
            2,
            attributes=[
                attr("openinference.span.kind", "TOOL"),
                attr("tool.name", "weather"),
                attr("tool_call.id", "c3"),
                attr("input.value", args),
            ],
        ),
        span(1, 3, attributes=[attr("openinference.span.kind", "LLM"), attr("input.value", args)]),
        span(
            1,
            4,
            attributes=[
                attr("gen_ai.operation.name", "execute_tool"),
                attr("gen_ai.tool.call.arguments", '{"city": "Rome"}'),
            ],
        ),
        span(1, 5, attributes=[attr("tool.name", "x"), attr("tool.parameters", "{}")]),
    ]
    land(write(tmp_path / "in.jsonl", jsonl([request(spans)])))
    rows = lake_rows(home)
    by_span = {int(r["span_id"], 16) - 1: r for r in rows}
    assert (by_span[0]["tool_name"], by_span[0]["tool_call_id"]) == ("weather", "c1")
    assert (by_span[2]["tool_name"], by_span[2]["tool_call_id"]) == ("weather", "c3")
    assert (
        by_span[0]["tool_args_hash"] == by_span[1]["tool_args_hash"] == by_span[2]["tool_args_hash"]
    )
    assert len(by_span[0]["tool_args_hash"]) == 16
    assert by_span[3]["tool_args_hash"] is None  # input.value counts on tool spans only
    assert by_span[4]["tool_args_hash"] not in (None, by_span[0]["tool_args_hash"])
    assert by_span[5]["tool_args_hash"] is not None


def test_dimension_defaults_span_then_resource(home, land, tmp_path) -> None:
    resource = [
        attr("service.name", "svc-a"),
        attr("deployment.environment.name", "prod"),
        attr("tenant.id", "t-resource"),
    ]
    row = land_attrs(home, land, tmp_path, [attr("user.cohort", "gold")], resource=resource)
    assert row["agent_name"] == "svc-a"  # falls back to resource service.name
    assert row["environment"] == "prod"
    assert row["tenant_id"] == "t-resource"  # span first, then resource
    assert row["user_cohort"] == "gold"


def test_dimension_mapping_from_config(home, land, tmp_path) -> None:
    config_text = "dimensions:\n  user_cohort: [app.customer_tier]\n  tenant_id: [resource:k8s.namespace.name]\n"
    row = land_attrs(
        home,
        land,
        tmp_path,
        [attr("app.customer_tier", "enterprise"), attr("user.cohort", "gold")],
        resource=[attr("k8s.namespace.name", "acme")],
        config_text=config_text,
    )
    assert row["user_cohort"] == "enterprise"  # the mapping is tried before the defaults
    assert row["tenant_id"] == "acme"


def test_redaction_drops_attributes(home, land, tmp_path) -> None:
    config_text = 'redact: ["gen_ai.prompt.*", "user.email", "gen_ai.tool.call.arguments"]\n'
    row = land_attrs(
        home,
        land,
        tmp_path,
        [
            attr("gen_ai.prompt.0.content", "secret prompt"),
            attr("user.email", "a@b.c"),
            attr("gen_ai.tool.call.arguments", '{"card": "4111"}'),
            attr("gen_ai.operation.name", "execute_tool"),
            attr("user.id", "u1"),
        ],
        resource=[attr("service.name", "s"), attr("user.email", "r@b.c")],
        config_text=config_text,
    )
    attributes = orjson.loads(row["attributes"])
    assert attributes == {"gen_ai.operation.name": "execute_tool", "user.id": "u1"}
    assert orjson.loads(row["resource_attributes"]) == {"service.name": "s"}
    assert "4111" not in str(row) and "secret" not in str(row)
    assert row["tool_args_hash"] is not None  # hashed before redaction, the value itself is gone
