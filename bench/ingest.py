"""Ingest throughput against merely reading + parsing the same files with orjson on one core.

    .venv/bin/python bench/ingest.py                 # ~300 MB of OTLP JSON lines, 2 rounds
    .venv/bin/python bench/ingest.py --gib 2 --rounds 1   # the 2 GiB file: throughput and peak RSS

Prints, per round (baseline and ingest alternated, as the machine is shared and
noisy), spans/s of each and their ratio, and the peak RSS of the ingest process.
The input is synthesized here: agent runs of GenAI-instrumented spans (agent,
LLM and tool spans with the attributes real instrumentations set), batched per
resource as the Collector's file exporter writes them. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

T0 = 1_790_000_000_000_000_000
SPANS_PER_LINE = 64  # the exporter writes one batch (of the batch processor) per line


def _kv(key: str, value: object) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {
            "key": key,
            "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}},
        }
    return {"key": key, "value": {"stringValue": value}}


def _run(rnd: random.Random, start_ns: int) -> list[dict]:
    """One agent run: a root agent span, LLM calls and tool calls under it."""
    trace = f"{rnd.getrandbits(128):032x}"
    root = f"{rnd.getrandbits(64):016x}"
    agent = rnd.choice(["planner", "support", "coder", "researcher"])
    common = [
        _kv("gen_ai.agent.name", agent),
        _kv("tenant.id", f"tenant-{rnd.randint(1, 40)}"),
        _kv("user.id", f"user-{rnd.randint(1, 5000)}"),
        _kv("gen_ai.conversation.id", f"conv-{rnd.getrandbits(32):08x}"),
    ]
    spans = []
    t = start_ns
    for step in range(rnd.randint(3, 12)):
        sid = f"{rnd.getrandbits(64):016x}"
        duration = rnd.randint(50_000_000, 4_000_000_000)
        if step % 2 == 0:
            model = rnd.choice(["gpt-4o", "claude-sonnet-4", "gemini-2.5-pro"])
            attributes = common + [
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.provider.name", "openai"),
                _kv("gen_ai.request.model", model),
                _kv("gen_ai.response.model", model + "-2026-01-01"),
                _kv("gen_ai.request.temperature", 0.2),
                _kv("gen_ai.usage.input_tokens", rnd.randint(200, 20_000)),
                _kv("gen_ai.usage.output_tokens", rnd.randint(10, 2_000)),
                _kv("gen_ai.usage.cache_read.input_tokens", rnd.randint(0, 10_000)),
                _kv("gen_ai.response.finish_reasons", [rnd.choice(["stop", "tool_calls"])]),
                _kv("gen_ai.response.id", f"chatcmpl-{rnd.getrandbits(64):x}"),
            ]
            name, kind = f"chat {model}", 3
        else:
            tool = rnd.choice(["search", "lookup_order", "run_sql", "read_file"])
            attributes = common + [
                _kv("gen_ai.operation.name", "execute_tool"),
                _kv("gen_ai.tool.name", tool),
                _kv("gen_ai.tool.call.id", f"call_{rnd.getrandbits(48):x}"),
                _kv("gen_ai.tool.call.arguments", f'{{"q": "item {rnd.randint(1, 999)}"}}'),
            ]
            name, kind = f"execute_tool {tool}", 1
        status = {"code": 2, "message": "tool failed"} if rnd.random() < 0.03 else {}
        spans.append(
            {
                "traceId": trace,
                "spanId": sid,
                "parentSpanId": root,
                "name": name,
                "kind": kind,
                "startTimeUnixNano": str(t),
                "endTimeUnixNano": str(t + duration),
                "attributes": attributes,
                "status": status,
            }
        )
        t += duration
    spans.append(
        {
            "traceId": trace,
            "spanId": root,
            "name": f"invoke_agent {agent}",
            "kind": 1,
            "startTimeUnixNano": str(start_ns),
            "endTimeUnixNano": str(t + 1_000_000),
            "attributes": common + [_kv("gen_ai.operation.name", "invoke_agent")],
            "status": {"code": 1},
        }
    )
    return spans


def synthesize(path: Path, target_bytes: int, seed: int = 1) -> int:
    """Write OTLP JSON lines of about target_bytes; returns the span count."""
    rnd = random.Random(seed)
    resource = {
        "attributes": [
            _kv("service.name", "agents"),
            _kv("deployment.environment.name", "prod"),
            _kv("telemetry.sdk.language", "python"),
        ]
    }
    written = spans_total = 0
    start = T0
    with path.open("wb") as handle:
        pending: list[dict] = []
        while written < target_bytes:
            while len(pending) < SPANS_PER_LINE:
                pending.extend(_run(rnd, start))
                start += rnd.randint(10_000_000, 200_000_000)
            batch, pending = pending[:SPANS_PER_LINE], pending[SPANS_PER_LINE:]
            message = {
                "resourceSpans": [
                    {
                        "resource": resource,
                        "scopeSpans": [
                            {
                                "scope": {"name": "opentelemetry.instrumentation.genai"},
                                "spans": batch,
                            }
                        ],
                    }
                ]
            }
            line = orjson.dumps(message) + b"\n"
            handle.write(line)
            written += len(line)
            spans_total += len(batch)
    return spans_total


def baseline(path: Path) -> float:
    """Seconds to read the file and orjson-parse every line, on one core."""
    started = time.perf_counter()
    with path.open("rb") as handle:
        for line in handle:
            orjson.loads(line)
    return time.perf_counter() - started


_CHILD = """
import sys, time
from pathlib import Path
from fleetsignals.config import load_config
from fleetsignals.home import Home
from ingest.land import land_paths
started = time.perf_counter()
summary = land_paths([Path(sys.argv[1])], Home(Path(sys.argv[2])), load_config(None))
print(time.perf_counter() - started, summary.spans, summary.quarantined)
"""


def ingest(path: Path, home: Path) -> tuple[float, int, float]:
    """(seconds, spans landed, peak RSS MiB) of land_paths in a fresh process and home."""
    env = {k: v for k, v in os.environ.items() if k != "FLEETSIGNALS_CONFIG"}
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(home)],
        cwd=path.parent,  # no fleetsignals.yml there: the documented defaults
        stdout=subprocess.PIPE,
        env=env,
    )
    out = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"ingest failed with status {status}")
    seconds, spans, quarantined = out.splitlines()[-1].split()
    if int(quarantined):
        raise SystemExit("the synthetic input was quarantined: a bug")
    return float(seconds), int(spans), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=300, help="input size in MB (default 300)")
    parser.add_argument(
        "--gib", type=float, default=None, help="input size in GiB (overrides --mb)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds (default 2)")
    parser.add_argument(
        "--input", type=Path, default=None, help="reuse this synthesized file (written if missing)"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="work directory (default: a temp dir)"
    )
    args = parser.parse_args()
    target = int(args.gib * (1 << 30)) if args.gib else int(args.mb * 1e6)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        source = args.input or work / "traces.jsonl"
        started = time.perf_counter()
        if source.exists():
            spans = sum(line.count(b'"spanId"') for line in source.open("rb"))
        else:
            spans = synthesize(source, target)
        size = source.stat().st_size
        print(
            f"input: {size / 1e6:,.0f} MB, {spans:,} spans in {spans // SPANS_PER_LINE:,} lines"
            f" (synthesized in {time.perf_counter() - started:.0f}s); cores: {os.cpu_count()}"
        )
        ratios = []
        for round_no in range(1, args.rounds + 1):
            base_s = baseline(source)
            ingest_s, landed, rss = ingest(source, work / f"home{round_no}")
            assert landed == spans, (landed, spans)
            ratio = base_s / ingest_s
            ratios.append(ratio)
            print(
                f"round {round_no}: orjson read+parse {spans / base_s:,.0f} spans/s ({base_s:.1f}s);"
                f" ingest {spans / ingest_s:,.0f} spans/s ({ingest_s:.1f}s);"
                f" ratio {ratio:.2f}; ingest peak RSS {rss:,.0f} MiB"
            )
        print(
            f"ratio (ingest / orjson parse, median of {len(ratios)}): {statistics.median(ratios):.2f}"
        )


if __name__ == "__main__":
    main()
