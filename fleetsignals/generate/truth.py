"""Ground truth beside the dumps: per-run facts exactly as the written spans encode
them (``runs.parquet``) and the incident windows (``ground_truth.json``).

Per-run facts follow the contract's rules, applied to the spans that were
written: a run's dimension comes from its root span, else from the earliest
span that carries it, else from the resource; steps are LLM plus tool calls;
tokens and cost are summed over LLM calls only; ``model`` is the model of most
LLM calls (ties: the alphabetically first); a run whose root was not written is
``running`` with no ``ended_at``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from fleetsignals.generate.incidents import Incident
from fleetsignals.generate.shape import FleetShape
from fleetsignals.generate.simulate import RunPlan
from fleetsignals.timeutil import format_time

DIMENSIONS = ("agent_name", "prompt_variant", "workflow", "tenant_id", "user_id", "user_cohort",
              "session_id")  # fmt: skip
TS = pa.timestamp("us")
RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("agent_name", pa.string()),
        ("prompt_variant", pa.string()),
        ("workflow", pa.string()),
        ("tenant_id", pa.string()),
        ("user_id", pa.string()),
        ("user_cohort", pa.string()),
        ("session_id", pa.string()),
        ("environment", pa.string()),
        ("model", pa.string()),
        ("started_at", TS),
        ("ended_at", TS),
        ("status", pa.string()),
        ("step_count", pa.int64()),
        ("llm_call_count", pa.int64()),
        ("tool_call_count", pa.int64()),
        ("tool_error_count", pa.int64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cache_read_tokens", pa.int64()),
        ("cost_usd_list", pa.float64()),
        ("incident", pa.string()),
    ]
)
EPOCH = datetime(1970, 1, 1)


def ns_to_datetime(ns: int) -> datetime:
    """Naive UTC, truncated to microseconds (what a Parquet timestamp[us] holds)."""
    return EPOCH + timedelta(microseconds=ns // 1000)


@dataclass
class GroundTruth:
    """What `generate_fleet` wrote, and the truth the tests check the pipeline against."""

    out: Path
    seed: int
    start: datetime
    end: datetime
    params: dict[str, Any]
    incidents: list[Incident]
    runs: int = 0
    spans: int = 0
    files: list[Path] = field(default_factory=list)
    fleet: dict[str, Any] = field(default_factory=dict)

    @property
    def dumps(self) -> Path:
        return self.out / "dumps"

    @property
    def runs_path(self) -> Path:
        return self.out / "runs.parquet"

    @property
    def path(self) -> Path:
        return self.out / "ground_truth.json"

    def incident(self, name: str) -> Incident:
        for inc in self.incidents:
            if inc.name == name:
                return inc
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "start": format_time(self.start),
            "end": format_time(self.end),
            "params": self.params,
            "counts": {"runs": self.runs, "spans": self.spans, "files": len(self.files)},
            "fleet": self.fleet,
            "incidents": [
                {
                    "name": inc.name,
                    "signal": inc.signal,
                    "start": format_time(inc.start),
                    "end": format_time(inc.end),
                    "labels": inc.labels,
                    "params": inc.params,
                    "run_ids": inc.run_ids,
                }
                for inc in self.incidents
            ],
        }


def describe_shape(shape: FleetShape) -> dict[str, Any]:
    """The fleet's shape in ground_truth.json: what a reader of the dumps should find."""
    return {
        "agents": [
            {
                "name": a.name,
                "vocabulary": a.vocab,
                "traffic_share": round(a.weight, 4),
                "prompt_variants": [v.name for v in a.variants],
                "tools": [t.name for t in a.tools],
                "models": a.models,
                "workflows": a.workflows if a.vocab != "openinference" else [],
                "sub_agent": a.sub_agent,
                "replicas": len(a.resources),
            }
            for a in shape.agents
        ],
        "user_cohorts": shape.cohorts,
        "tenants": len(shape.tenants),
        "users": sum(len(t.users) for t in shape.tenants),
    }


def run_rows(plans: list[RunPlan], shape: FleetShape) -> dict[str, list]:
    """Column lists for runs.parquet: one row per run with at least one written span."""
    cols: dict[str, list] = {f.name: [] for f in RUNS_SCHEMA}
    for plan in plans:
        written = [s for s in plan.spans if s.arrival_ns >= 0]
        if not written:
            continue
        root = next((s for s in written if s.is_root), None)
        resource = shape.resources[plan.resource]
        dims: dict[str, str | None] = dict.fromkeys(DIMENSIONS)
        if root is not None:
            dims.update(root.dims)
        for s in sorted(written, key=lambda s: s.start_ns):
            for k, v in s.dims.items():
                if dims[k] is None:
                    dims[k] = v
        if dims["agent_name"] is None:
            dims["agent_name"] = shape.agents[resource.agent].name  # resource service.name
        llm = [s for s in written if s.op == "llm"]
        tools = [s for s in written if s.op == "tool"]
        models = Counter(s.model for s in llm)
        model = min(models, key=lambda m: (-models[m], m)) if models else None
        cols["run_id"].append(plan.run_id)
        for k in DIMENSIONS:
            cols[k].append(dims[k])
        cols["environment"].append(resource.environment)
        cols["model"].append(model)
        cols["started_at"].append(ns_to_datetime(min(s.start_ns for s in written)))
        cols["ended_at"].append(ns_to_datetime(root.end_ns) if root else None)
        cols["status"].append("running" if root is None else "error" if root.error else "ok")
        cols["step_count"].append(len(llm) + len(tools))
        cols["llm_call_count"].append(len(llm))
        cols["tool_call_count"].append(len(tools))
        cols["tool_error_count"].append(sum(1 for s in tools if s.error))
        cols["input_tokens"].append(sum(s.input_tokens for s in llm))
        cols["output_tokens"].append(sum(s.output_tokens for s in llm))
        cols["cache_read_tokens"].append(sum(s.cache_read for s in llm))
        cols["cost_usd_list"].append(round(sum(s.cost for s in llm), 9))
        cols["incident"].append(plan.incident)
    return cols


def write_truth(truth: GroundTruth, cols: dict[str, list]) -> None:
    table = pa.table(cols, schema=RUNS_SCHEMA)
    tmp = truth.runs_path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(truth.runs_path)
    data = orjson.dumps(truth.to_json(), option=orjson.OPT_INDENT_2) + b"\n"
    tmp = truth.path.with_suffix(".json.tmp")
    tmp.write_bytes(data)
    tmp.replace(truth.path)
