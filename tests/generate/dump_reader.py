"""An independent reader of generated dumps for the generator tests.

It follows the contract's rules (CONTRACT.md: dimensions, steps, tokens)
without using the generator's own code, so the ground truth is checked against
what the files really say.
"""

from __future__ import annotations

import gzip
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import zstandard

from fleetsignals.contract import DIMENSION_KEYS

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status: int
    attrs: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    file_index: int
    line_index: int


@dataclass
class Dump:
    files: list[Path]
    spans: list[Span] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)

    def by_trace(self) -> dict[str, list[Span]]:
        traces: dict[str, list[Span]] = defaultdict(list)
        for s in self.spans:
            traces[s.trace_id].append(s)
        return traces


def value_of(any_value: dict) -> Any:
    ((kind, v),) = any_value.items()
    if kind == "intValue":
        return int(v)
    if kind == "arrayValue":
        return [value_of(x) for x in v.get("values", [])]
    return v


def read_bytes(path: Path) -> bytes:
    """The JSON lines of a dump file, whatever its compression."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == ZSTD_MAGIC:
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    if data[4:8] == ZSTD_MAGIC:  # the fileexporter's length-prefixed frames
        lines, pos = [], 0
        while pos < len(data):
            (length,) = struct.unpack(">I", data[pos : pos + 4])
            lines.append(
                zstandard.ZstdDecompressor()
                .decompressobj()
                .decompress(data[pos + 4 : pos + 4 + length])
            )
            pos += 4 + length
        return b"".join(line + b"\n" for line in lines)
    return data


def read_dump(dumps: Path) -> Dump:
    dump = Dump(sorted(dumps.glob("traces-*.jsonl*")))
    for fi, path in enumerate(dump.files):
        for li, raw in enumerate(read_bytes(path).splitlines()):
            line = orjson.loads(raw)
            dump.lines.append(line)
            for rs in line["resourceSpans"]:
                resource = {a["key"]: value_of(a["value"]) for a in rs["resource"]["attributes"]}
                for ss in rs["scopeSpans"]:
                    for sp in ss["spans"]:
                        dump.spans.append(
                            Span(
                                trace_id=sp["traceId"],
                                span_id=sp["spanId"],
                                parent_id=sp.get("parentSpanId") or None,
                                name=sp["name"],
                                kind=sp["kind"],
                                start_ns=int(sp["startTimeUnixNano"]),
                                end_ns=int(sp["endTimeUnixNano"]),
                                status=sp.get("status", {}).get("code", 0),
                                attrs={a["key"]: value_of(a["value"]) for a in sp["attributes"]},
                                resource=resource,
                                scope=ss["scope"]["name"],
                                file_index=fi,
                                line_index=li,
                            )
                        )
    return dump


def operation(s: Span) -> str:
    op = s.attrs.get("gen_ai.operation.name")
    kind = s.attrs.get("openinference.span.kind")
    if op == "chat" or kind == "LLM":
        return "llm"
    if op == "execute_tool" or kind == "TOOL":
        return "tool"
    if op == "invoke_agent" or kind == "AGENT":
        return "agent"
    return "other"


def first(attrs: dict, *keys: str) -> Any:
    for k in keys:
        if k in attrs:
            return attrs[k]
    return None


def tokens(s: Span) -> tuple[int, int, int]:
    a = s.attrs
    return (
        first(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt") or 0,
        first(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion") or 0,
        first(a, "gen_ai.usage.cache_read.input_tokens", "llm.token_count.prompt_details.cache_read") or 0,
    )  # fmt: skip


def dimension(spans: list[Span], name: str) -> str | None:
    """The contract's rule: root span, else the earliest span that has it, else the resource."""
    keys = DIMENSION_KEYS[name]
    span_keys = [k for k in keys if not k.startswith("resource:")]
    ordered = sorted(spans, key=lambda s: (s.parent_id is not None, s.start_ns))
    for s in ordered:
        v = first(s.attrs, *span_keys)
        if v is not None:
            return v
    for k in keys:
        if k.startswith("resource:") and k[9:] in spans[0].resource:
            return spans[0].resource[k[9:]]
    return None
