"""The attribute vocabularies ingest normalizes: OTel GenAI (current and pre-1.37) and OpenInference.

Contract dimensions come from ``fleetsignals.contract`` plus the user's
``dimensions:`` mapping; the keys here are the fixed normalized fields.
"""

from __future__ import annotations

from fleetsignals.contract import RUN_DIMENSIONS

# gen_ai.operation.name / openinference.span.kind -> operation class.
LLM_OPERATIONS = ("chat", "text_completion", "generate_content", "embeddings")
TOOL_OPERATIONS = ("execute_tool",)
AGENT_OPERATIONS = ("invoke_agent", "create_agent")

# Normalized column -> span attribute keys, first present wins.
NORMALIZED_KEYS: dict[str, list[str]] = {
    "tool_name": ["gen_ai.tool.name", "tool.name"],
    "tool_call_id": ["gen_ai.tool.call.id", "tool_call.id"],
    "provider": ["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"],
    "input_tokens": [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
    ],
    "output_tokens": [
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ],
    "cache_read_tokens": [
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ],
    "cache_write_tokens": [
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ],
    "reasoning_tokens": [
        "gen_ai.usage.reasoning.output_tokens",
        "llm.token_count.completion_details.reasoning",
    ],
    "cost_usd": ["gen_ai.usage.cost", "llm.cost.total"],
    "operation_name": ["gen_ai.operation.name"],
    "openinference_kind": ["openinference.span.kind"],
}
TOOL_ARGS_KEYS = ["gen_ai.tool.call.arguments", "input.value", "tool.parameters"]
TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
# The run dimensions ingest normalizes are the contract's.
DIMENSIONS = RUN_DIMENSIONS
