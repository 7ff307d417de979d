"""Vocabularies as data: the shipped dialect files, evidence-based classification, the
operator's own dialects in config (ingest.dialects), and clear errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsignals.config import load_config
from fleetsignals.contract import DIMENSION_KEYS
from fleetsignals.errors import FleetsignalsError
from fleetsignals.ingest.settings import IngestSettings
from fleetsignals.ingest.vocabulary import FIELDS, Key, load_vocabulary, shipped_dialects
from tests.fixtures.ingest_inputs import attr, jsonl, lake_rows, request, span, write


def land_one(home, land, tmp_path, attributes, config_text="") -> dict:
    message = request([span(1, 0, attributes=attributes)])
    summary = land(write(tmp_path / "in.jsonl", jsonl([message])), config_text=config_text)
    assert summary.quarantined == 0, summary.reasons
    (row,) = lake_rows(home)
    return row


def test_every_shipped_dialect_loads_and_names_only_known_fields() -> None:
    dialects = shipped_dialects()
    names = [d.name for d in dialects]
    assert names[:3] == ["otel_genai", "otel_genai_legacy", "openinference"]
    assert {"openllmetry", "vercel_ai", "langsmith", "pydantic_ai", "strands", "sentry"} <= set(
        names
    )
    for dialect in dialects:
        assert set(dialect.fields) <= set(FIELDS), dialect.name


def test_merged_order_keeps_the_contract_defaults_first_and_the_resource_last() -> None:
    vocabulary = load_vocabulary({}, DIMENSION_KEYS, "test")
    agent = [k.name for k in vocabulary.dimensions["agent_name"]]
    assert agent[:2] == ["gen_ai.agent.name", "agent.name"]
    assert agent[-1] == "resource:service.name"
    assert (
        Key("traceloop.entity.name", "traceloop.span.kind", "agent")
        in (vocabulary.dimensions["agent_name"])
    )
    model = [k.name for k in vocabulary.dimensions["model"]]
    assert model[:3] == ["gen_ai.response.model", "gen_ai.request.model", "llm.model_name"]
    assert "ai.model.id" in model
    inputs = [k.name for k in vocabulary.fields["input_tokens"]]
    assert inputs[:3] == [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
    ]


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        # The evidence of an LLM call: a model and token usage, whatever the names say.
        ([attr("gen_ai.request.model", "gpt-4o"), attr("gen_ai.usage.input_tokens", 5)], "llm"),
        ([attr("ai.model.id", "gpt-4o"), attr("ai.usage.promptTokens", 5)], "llm"),
        # A model alone (a config span, a router) is no call.
        ([attr("gen_ai.request.model", "gpt-4o")], "other"),
        ([attr("gen_ai.usage.input_tokens", 5)], "other"),
        # A name that says what the span is wins over the evidence: the AI SDK's outer
        # span sums its steps, it is no call of its own.
        (
            [
                attr("ai.operationId", "ai.generateText"),
                attr("ai.model.id", "gpt-4o"),
                attr("ai.usage.promptTokens", 5),
            ],
            "other",
        ),
        ([attr("ai.operationId", "ai.toolCall"), attr("ai.toolCall.name", "search")], "tool"),
        ([attr("traceloop.span.kind", "tool")], "tool"),
        ([attr("llm.request.type", "chat")], "llm"),
        ([attr("langsmith.span.kind", "LLM")], "llm"),
        ([attr("sentry.op", "gen_ai.execute_tool")], "tool"),
        ([attr("langfuse.observation.type", "generation")], "llm"),
        ([attr("gen_ai.operation.name", "execute_event_loop_cycle")], "other"),
        # A span that names a tool and nothing else: Pydantic AI's "running tool".
        ([attr("gen_ai.tool.name", "search"), attr("tool_arguments", "{}")], "tool"),
    ],
)
def test_operation_by_name_or_by_evidence(home, land, tmp_path, attributes, expected) -> None:
    assert land_one(home, land, tmp_path, attributes)["operation"] == expected


def test_conditional_keys_read_only_when_their_condition_holds(home, land, tmp_path) -> None:
    row = land_one(
        home,
        land,
        tmp_path,
        [attr("traceloop.span.kind", "task"), attr("traceloop.entity.name", "summarize")],
    )
    assert (row["tool_name"], row["agent_name"]) == (None, "svc")  # service.name fallback


def test_members_of_a_json_valued_attribute(home, land, tmp_path) -> None:
    row = land_one(
        home,
        land,
        tmp_path,
        [
            attr("langfuse.observation.type", "generation"),
            attr("langfuse.observation.model.name", "gpt-4o"),
            attr("langfuse.observation.usage_details", '{"input": 120, "output": 30}'),
            attr("langfuse.observation.cost_details", '{"total": 0.0006}'),
        ],
    )
    assert (row["operation"], row["model"]) == ("llm", "gpt-4o")
    assert (row["input_tokens"], row["output_tokens"], row["cost_usd"]) == (120, 30, 0.0006)


def test_a_json_member_of_a_value_that_is_not_json_is_null(home, land, tmp_path) -> None:
    row = land_one(home, land, tmp_path, [attr("langfuse.observation.usage_details", "{not json")])
    assert row["input_tokens"] is None


OPERATOR_DIALECT = """
ingest:
  dialects:
    acme:
      operation:
        acme.kind: {model_call: llm, action: tool}
      fields:
        model: [acme.model]
        input_tokens: [acme.tokens.in]
        output_tokens: [acme.tokens.out]
        cost_usd: [acme.usd]
        tool_name: [{key: acme.target, when: {acme.kind: action}}]
      dimensions:
        tenant_id: [acme.customer]
"""


def test_an_operator_dialect_in_config_extends_the_vocabulary(home, land, tmp_path) -> None:
    row = land_one(
        home,
        land,
        tmp_path,
        [
            attr("acme.kind", "model_call"),
            attr("acme.model", "acme-large"),
            attr("acme.tokens.in", 120),
            attr("acme.tokens.out", 30),
            attr("acme.usd", 0.25),
            attr("acme.customer", "c-9"),
        ],
        config_text=OPERATOR_DIALECT,
    )
    assert row["operation"] == "llm"
    assert (row["model"], row["input_tokens"], row["output_tokens"]) == ("acme-large", 120, 30)
    assert (row["cost_usd"], row["tenant_id"]) == (0.25, "c-9")


def test_an_operator_dialect_from_a_file_beside_the_config(home, land, tmp_path) -> None:
    (tmp_path / "acme.yml").write_text(
        "operation: {acme.kind: {action: tool}}\n"
        "fields: {tool_name: [{key: acme.target, when: {operation: tool}}]}\n"
    )
    row = land_one(
        home,
        land,
        tmp_path,
        [attr("acme.kind", "action"), attr("acme.target", "refund")],
        config_text="ingest: {dialects: {acme: acme.yml}}\n",
    )
    assert (row["operation"], row["tool_name"]) == ("tool", "refund")


@pytest.mark.parametrize(
    ("dialect", "message"),
    [
        ("[model]", "dialect 'acme': must be a mapping"),
        ("{fields: {modle: [x]}}", "unknown field 'modle' (known: model,"),
        ("{dimensions: {model: [x]}}", "unknown dimension 'model' (model is a field)"),
        ("{operation: {acme.kind: {call: llm_call}}}", "'llm_call' is not a class (llm, tool"),
        ("{fields: {model: []}}", "fields.model: must be a list of attribute keys"),
        ("{fields: {model: [{key: x, when: {a: 1, b: 2}}]}}", "'when' must be one attribute"),
        ("{fields: {model: ['resource:x']}}", "only dimensions may read the resource"),
        ("{priority: first}", "'priority' must be a whole number"),
        ("{colour: red}", "unknown key 'colour'"),
        ("missing.yml", "acme: cannot read"),
    ],
)
def test_a_bad_operator_dialect_is_a_clear_one_line_error(
    tmp_path: Path, dialect: str, message: str
) -> None:
    config = tmp_path / "fleetsignals.yml"
    config.write_text(f"ingest:\n  dialects:\n    acme: {dialect}\n")
    with pytest.raises(FleetsignalsError) as caught:
        IngestSettings.from_config(load_config(config))
    error = str(caught.value)
    assert "\n" not in error and error.startswith(f"{config}: ingest.dialects"), error
    assert message in error, error


def test_ingest_with_a_bad_dialect_exits_with_the_reason(tmp_path: Path, run_process) -> None:
    config = tmp_path / "fleetsignals.yml"
    config.write_text("ingest:\n  dialects:\n    acme: {fields: {modle: [x]}}\n")
    source = write(tmp_path / "in.jsonl", jsonl([request([span(1, 0)])]))
    result = run_process("--config", str(config), "ingest", str(source))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"error: {config}: ingest.dialects: dialect 'acme': unknown field 'modle' (known: "
        "model, provider, tool_name, tool_call_id, tool_arguments, input_tokens, output_tokens, "
        "cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd)"
    ]


def test_run_stops_at_start_on_a_bad_dialect(tmp_path: Path, home) -> None:
    from fleetsignals.alerts.scheduler import Runner

    config = tmp_path / "fleetsignals.yml"
    config.write_text("ingest:\n  dialects:\n    acme: {operation: {k: {v: call}}}\n")
    with pytest.raises(FleetsignalsError, match="'call' is not a class"):
        Runner(home, load_config(config))
