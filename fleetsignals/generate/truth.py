"""Ground truth beside the dumps: per-run facts exactly as the written spans encode
them (``runs.parquet``) and the incident windows (``ground_truth.json``).

Per-run facts follow the contract's rules, applied to the spans that were
written: a run's dimension comes from its root span, else from the earliest
span that carries it, else from the resource; steps are LLM plus tool calls;
tokens and cost are summed over LLM calls only (``cost_usd`` with the warehouse's
price table and rules, see ``pricing.py``; ``cost_usd_list`` at the catalog's list
prices); ``model`` is the model of most
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

from fleetsignals.contract import RUN_DIMENSIONS
from fleetsignals.errors import FleetsignalsError
from fleetsignals.files import write_atomic
from fleetsignals.generate.incidents import Incident
from fleetsignals.generate.shape import FleetShape
from fleetsignals.generate.simulate import RunPlan, SpanRec
from fleetsignals.timeutil import format_time, parse_time

# Dimensions read from the written spans; environment is the resource's (see run_rows).
DIMENSIONS = tuple(name for name in RUN_DIMENSIONS if name != "environment")
TS = pa.timestamp("us")
RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        *[(name, pa.string()) for name in RUN_DIMENSIONS],
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
        ("cost_usd", pa.float64()),
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
    label_files: int = 0  # generate --labels: files in OUT/labels/
    labels: int = 0

    @property
    def dumps(self) -> Path:
        return self.out / "dumps"

    @property
    def runs_path(self) -> Path:
        return self.out / "runs.parquet"

    @property
    def path(self) -> Path:
        return self.out / "ground_truth.json"

    @classmethod
    def load(cls, out: Path) -> GroundTruth:
        """Read back what `generate_fleet` wrote to OUT (e.g. a fleet cached by a benchmark)."""
        path = Path(out) / "ground_truth.json"
        try:
            doc = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise FleetsignalsError(
                f"cannot read {path}: {exc}; run `fleetsignals generate`"
            ) from None
        incidents = [
            Incident(i["name"], parse_time(i["start"]), parse_time(i["end"]), i["labels"],
                     i.get("params", {}), i["run_ids"])
            for i in doc["incidents"]
        ]  # fmt: skip
        counts = doc.get("counts", {})
        truth = cls(Path(out), doc["seed"], parse_time(doc["start"]), parse_time(doc["end"]),
                    doc["params"], incidents, counts.get("runs", 0), counts.get("spans", 0),
                    fleet=doc.get("fleet", {}))  # fmt: skip
        truth.files = sorted(truth.dumps.glob("traces-*.jsonl*"))
        return truth

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
            "counts": {
                "runs": self.runs,
                "spans": self.spans,
                "files": len(self.files),
                # Only with --labels, so every other fleet's ground truth stays byte-identical.
                **(
                    {"label_files": self.label_files, "labels": self.labels}
                    if self.params.get("labels")
                    else {}
                ),
            },
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


class RunFacts:
    """One run's facts, accumulated from its spans as they are written."""

    __slots__ = ("root", "root_dims", "first_dims", "llm", "tools", "tool_errors", "tokens", "cost",
                 "priced_cost", "unpriced", "models", "first_start")  # fmt: skip

    def __init__(self) -> None:
        self.root: tuple[int, bool] | None = None  # end, error
        self.root_dims: dict[str, str] = {}
        self.first_dims: dict[str, tuple[int, str]] = {}  # dim -> (start, value), non-root
        self.llm = self.tools = self.tool_errors = 0
        self.tokens = [0, 0, 0]
        self.cost = 0.0
        self.priced_cost = 0.0
        self.unpriced = 0
        self.models: Counter[str] = Counter()
        self.first_start: int | None = None

    def add(self, s: SpanRec) -> None:
        if self.first_start is None or s.start_ns < self.first_start:
            self.first_start = s.start_ns
        if s.is_root:
            self.root = (s.end_ns, s.error)
            self.root_dims = s.dims
        else:
            for k, v in s.dims.items():
                seen = self.first_dims.get(k)
                if seen is None or s.start_ns < seen[0]:
                    self.first_dims[k] = (s.start_ns, v)
        if s.op == "llm":
            self.llm += 1
            self.tokens[0] += s.input_tokens
            self.tokens[1] += s.output_tokens
            self.tokens[2] += s.cache_read
            self.cost += s.cost
            if s.priced_cost is None:
                self.unpriced += 1
            else:
                self.priced_cost += s.priced_cost
            self.models[s.model or ""] += 1
        elif s.op == "tool":
            self.tools += 1
            self.tool_errors += s.error


def run_rows(
    plans: list[RunPlan], facts: dict[int, RunFacts], shape: FleetShape
) -> dict[str, list]:
    """Column lists for runs.parquet: one row per run with at least one written span."""
    cols: dict[str, list] = {f.name: [] for f in RUNS_SCHEMA}
    for index, plan in enumerate(plans):
        f = facts.get(index)
        if f is None:
            continue
        resource = shape.resources[plan.resource]
        dims: dict[str, str | None] = dict.fromkeys(DIMENSIONS)
        root = f.root
        dims.update(f.root_dims)
        for k, (_, v) in f.first_dims.items():
            if dims[k] is None:
                dims[k] = v
        if dims["agent_name"] is None:
            dims["agent_name"] = shape.agents[resource.agent].name  # resource service.name
        models = f.models
        cols["run_id"].append(plan.run_id)
        for k in DIMENSIONS:
            cols[k].append(dims[k])
        cols["environment"].append(resource.environment)
        cols["model"].append(min(models, key=lambda m: (-models[m], m)) if models else None)
        cols["started_at"].append(ns_to_datetime(f.first_start))  # type: ignore[arg-type]
        cols["ended_at"].append(ns_to_datetime(root[0]) if root else None)
        cols["status"].append("running" if root is None else "error" if root[1] else "ok")
        cols["step_count"].append(f.llm + f.tools)
        cols["llm_call_count"].append(f.llm)
        cols["tool_call_count"].append(f.tools)
        cols["tool_error_count"].append(f.tool_errors)
        cols["input_tokens"].append(f.tokens[0])
        cols["output_tokens"].append(f.tokens[1])
        cols["cache_read_tokens"].append(f.tokens[2])
        # Unknown when any call is unpriced, as in fct_runs (a partial sum reads as cheap).
        cols["cost_usd"].append(None if f.unpriced else f.priced_cost)
        cols["cost_usd_list"].append(round(f.cost, 9))
        cols["incident"].append(plan.incident)
    return cols


def write_truth(truth: GroundTruth, cols: dict[str, list]) -> None:
    table = pa.table(cols, schema=RUNS_SCHEMA)
    tmp = truth.runs_path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(truth.runs_path)
    data = orjson.dumps(truth.to_json(), option=orjson.OPT_INDENT_2) + b"\n"
    write_atomic(truth.path, data, tmp=truth.path.with_suffix(".json.tmp"), durable=False)
