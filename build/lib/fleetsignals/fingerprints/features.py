"""The behavioural vector of a run, as the drift test and the anomaly score see it.

``fct_run_fingerprints`` stores every documented feature of a run. The vector
used for comparisons keeps the *shape* of a run and leaves out its volume:
token counts and durations scale with context size, prices and provider
latency (which ``p95_cost_jump`` watches), so a context inflation would look
like behaviour drift if they were in. Output length enters as output tokens
per LLM call: what the model writes, which a bloated context leaves alone
but a prompt that makes the agent terser moves. See docs/fingerprints.md.
"""

from __future__ import annotations

import numpy as np

# Columns of fct_run_fingerprints that enter the vector, and how each is transformed.
# "log": ln(1 + x) for counts with a heavy right tail; "raw": as stored.
SCALAR_FEATURES: dict[str, str] = {
    "step_count": "log",
    "distinct_tool_count": "log",
    "tools_per_llm_call": "log",
    "repeat_ratio": "raw",
    "backtrack_ratio": "raw",
    "tool_error_rate": "raw",
    "recovery_rate": "raw",  # null (no errors) counts as 1: nothing was left unrecovered
    "output_tokens_per_llm_call": "log",
}
# The vector keeps this many of a pair's tools by call count; the rest share one "other" column,
# so an agent with a hundred tools does not spread the test over a hundred dimensions.
MAX_TOOLS = 10


def transform_scalars(columns: dict[str, np.ndarray]) -> np.ndarray:
    """The scalar part of the vector, one row per run, columns in SCALAR_FEATURES order."""
    out = []
    for name, how in SCALAR_FEATURES.items():
        values = np.asarray(columns[name], dtype=float)
        if name == "recovery_rate":
            values = np.where(np.isnan(values), 1.0, values)
        else:
            values = np.nan_to_num(values, nan=0.0)
        if how == "log":
            values = np.log1p(np.maximum(values, 0.0))
        out.append(values)
    return np.column_stack(out) if out else np.zeros((0, 0))


def tool_columns(shares: np.ndarray, rows: np.ndarray, max_tools: int = MAX_TOOLS) -> np.ndarray:
    """Tool shares of the given runs over the vocabulary those runs use.

    ``shares`` is the pair's (runs x tools) share matrix. The vocabulary is
    the ``max_tools`` tools with the most calls among ``rows`` (ties: lower
    column first, so it is deterministic); the others' shares are summed into
    one "other" column, present only when some run used such a tool.
    """
    sub = shares[rows]
    if sub.shape[1] <= max_tools:
        return sub
    order = np.argsort(-sub.sum(axis=0), kind="stable")
    top, rest = order[:max_tools], order[max_tools:]
    return np.column_stack([sub[:, top], sub[:, rest].sum(axis=1)])
