"""The features of fct_run_fingerprints computed in Python from a run's calls.

The SQL mart is the product; this is its executable specification. The
benchmark uses it to score thousands of simulated runs without an ingest
and build per trial, and tests/fingerprints checks that the mart and this
module agree on the same generated runs, so the benchmark measures what the
warehouse computes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ToolCall:
    tool_name: str
    is_error: bool


@dataclass(frozen=True)
class RunCalls:
    """What the features need of one completed run."""

    tool_calls: Sequence[ToolCall]  # ordered by start time, then span id
    llm_call_count: int
    input_tokens: int
    output_tokens: int
    duration_ms: float


def run_features(run: RunCalls) -> dict[str, object]:
    """Every feature column of fct_run_fingerprints for one run (same names, same rules)."""
    names = [c.tool_name for c in run.tool_calls]
    k = len(names)
    steps = k + run.llm_call_count
    repeats = backtracks = 0
    first_seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if i > 0 and name == names[i - 1]:
            repeats += 1
        elif i > 0 and name in first_seen:
            backtracks += 1
        first_seen.setdefault(name, i)
    errors = [i for i, c in enumerate(run.tool_calls) if c.is_error]
    recovered = sum(
        1
        for i in errors
        if any(names[j] == names[i] and not run.tool_calls[j].is_error for j in range(i + 1, k))
    )
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    tokens = run.input_tokens + run.output_tokens
    return {
        "step_count": steps,
        "llm_call_count": run.llm_call_count,
        "tool_call_count": k,
        "distinct_tool_count": len(counts),
        "tools_per_llm_call": k / run.llm_call_count if run.llm_call_count else 0.0,
        "repeat_ratio": repeats / (k - 1) if k > 1 else 0.0,
        "backtrack_ratio": backtracks / (k - 1) if k > 1 else 0.0,
        "tool_error_rate": len(errors) / k if k else 0.0,
        "recovery_rate": recovered / len(errors) if errors else math.nan,
        "output_tokens_per_llm_call": (
            run.output_tokens / run.llm_call_count if run.llm_call_count else 0.0
        ),
        "log_tokens_per_step": math.log1p(tokens / steps) if steps else 0.0,
        "log_duration_per_step_ms": math.log1p(run.duration_ms / steps) if steps else 0.0,
        "log_output_tokens": math.log1p(run.output_tokens),
        "tool_shares": {name: n / k for name, n in sorted(counts.items())},
    }
