"""Ingest throughput against merely reading + parsing the same files with orjson on one core.

    .venv/bin/python bench/ingest.py                 # ~300 MB of OTLP JSON lines, 2 rounds
    .venv/bin/python bench/ingest.py --gib 2 --rounds 1   # the 2 GiB file: throughput and peak memory
    .venv/bin/python bench/ingest.py --small-files 320    # the same spans as files of ~320 spans
    .venv/bin/python bench/ingest.py --small-files 320 --mb 150 --alternatives   # splits of the work

Prints, per round (baseline and ingest alternated, as the machine is shared and
noisy), spans/s of each and their ratio, and the peak memory (PSS) of the ingest's
whole process tree (parent plus parsing workers), and the CPU seconds of each (the
ingest's process tree): on a shared machine wall time moves with other jobs' load,
CPU time much less. Also a floor: DuckDB merely
parsing the records into typed structs, unnesting the spans and writing them as
zstd Parquet (no ids, times, normalized fields or attribute conversion), on both
cores: what any ingest on this stack and machine pays before doing its job.
The input is synthesized here: agent runs of GenAI-instrumented spans (agent,
LLM and tool spans with the attributes real instrumentations set), batched per
resource as the Collector's file exporter writes them. With --small-files the same
lines are split into a directory of files of about that many spans each (the exporter
rotating often, or one file per OTLP/HTTP request): per-file costs then show. With
--alternatives the span query is also run, in this process and on the same batches, as it
ships and in other splits of the work (issue 18; docs/ingest.md, "Small files"). Never part
of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
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


def split(source: Path, target: Path, spans_per_file: int) -> int:
    """Write source's lines into files of about spans_per_file spans under target (a new
    directory); returns the file count."""
    target.mkdir()
    lines_per_file = max(1, round(spans_per_file / SPANS_PER_LINE))
    count = 0
    with source.open("rb") as handle:
        while chunk := list(itertools.islice(handle, lines_per_file)):
            count += 1
            (target / f"traces-{count:06d}.json").write_bytes(b"".join(chunk))
    return count


def baseline(path: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) to read the file (or every file of the directory) and
    orjson-parse every line, on one core."""
    started, cpu = time.perf_counter(), time.process_time()
    for file in sorted(path.iterdir()) if path.is_dir() else [path]:
        with file.open("rb") as handle:
            for line in handle:
                orjson.loads(line)
    return time.perf_counter() - started, time.process_time() - cpu


# In a fresh process, like the ingest (and bench/ingest.py would shadow the package here).
_FLOOR_CHILD = """
import os, sys, time
import duckdb
from fleetsignals.ingest.otlp_sql import TRACES_DATA
sql = (
    "copy (select unnest(ss.spans, recursive := true) from ("
    " select unnest(rs.scopeSpans) as ss from ("
    " select unnest(json_transform(json, $type).resourceSpans) as rs"
    " from read_json_objects($path, format = 'newline_delimited')))"
    ") to '" + sys.argv[2] + "' (format parquet, compression zstd)"
)
with duckdb.connect(config={"threads": os.cpu_count()}) as con:
    started = time.perf_counter()
    con.execute(sql, {"type": TRACES_DATA, "path": sys.argv[1]})
    print(time.perf_counter() - started)
"""


def floor(path: Path, out: Path) -> float:
    """Seconds for DuckDB to parse, unnest and write the spans, with no normalization."""
    files = path / "*.json" if path.is_dir() else path
    done = subprocess.run(
        [sys.executable, "-c", _FLOOR_CHILD, str(files), str(out)],
        cwd=path.parent,
        capture_output=True,
        check=True,
        text=True,
    )
    return float(done.stdout.split()[-1])


def tree_pids(pid: int) -> list[int]:
    """A process and its live descendants (the children of any of its threads: Spark's
    JVM is started by whichever thread first asks for a session)."""
    if not Path(f"/proc/{pid}").exists():
        return []
    kids: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            kids += [int(c) for c in children.read_text().split()]
    return [pid, *(member for kid in kids for member in tree_pids(kid))]


def tree_pss_kib(pid: int) -> int:
    """Proportional set size (KiB) of a process and its descendants: unlike summed RSS,
    pages the processes share (libraries) count once. 0 once the process is gone."""
    total = 0
    for member in tree_pids(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text().splitlines()
            total += next((int(x.split()[1]) for x in rollup if x.startswith("Pss:")), 0)
    return total


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process and its live descendants have used so far,
    with the children each of them has waited for."""
    ticks = 0
    for member in tree_pids(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            # utime, stime, cutime, cstime: fields 14-17 of stat, after "(comm)".
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


_CHILD = """
import sys, time
from pathlib import Path
from fleetsignals.config import load_config
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
started = time.perf_counter()
summary = land_paths([Path(sys.argv[1])], Home(Path(sys.argv[2])), load_config(None))
print(time.perf_counter() - started, summary.spans, summary.quarantined)
"""


def ingest(path: Path, home: Path, config: Path | None = None) -> tuple[float, int, float, float]:
    """(seconds, spans landed, peak PSS MiB of the process tree, CPU seconds of the process
    tree) of land_paths in a fresh process and home."""
    env = {k: v for k, v in os.environ.items() if k != "FLEETSIGNALS_CONFIG"}
    if config:
        env["FLEETSIGNALS_CONFIG"] = str(config)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(home)],
        cwd=path.parent,  # no fleetsignals.yml there: the documented defaults
        stdout=subprocess.PIPE,
        env=env,
    )
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], tree_pss_kib(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = process.stdout.read() if process.stdout else b""
    status = process.wait()
    sampler.join()
    # The child's CPU with its waited-for workers: less moved by other jobs than wall time.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
    if status != 0:
        raise SystemExit(f"ingest failed with status {status}")
    seconds, spans, quarantined = out.splitlines()[-1].split()
    if int(quarantined):
        raise SystemExit("the synthetic input was quarantined: a bug")
    return float(seconds), int(spans), peak[0] / 1024, cpu


# The attribute conversion in vectorized SQL, the alternative to ingest/values.py that
# --alternatives measures: the common kinds (string, int, double, bool, arrays of those) in
# DuckDB, a list holding anything else (kvlists, bytes, snake_case members, a value with
# two members, non-canonical ints, doubles outside the range where DuckDB writes them as
# orjson does, escapes, duplicate keys) marked with chr(2) and converted by the Python
# function instead, so the lake's values stay the same.
_SCALAR = ["stringValue", "intValue", "doubleValue", "boolValue"]
_ELEMENT = "{" + ",".join(f'"{f}":"JSON"' for f in [*_SCALAR, "arrayValue"]) + "}"
_ANY_VALUE = (
    "{"
    + ",".join(f'"{f}":"JSON"' for f in _SCALAR)
    + ',"arrayValue":{"values":['
    + _ELEMENT
    + "]}}"
)
KEY_VALUES = '[{"key":"JSON","value":' + _ANY_VALUE + "}]"
SQL_CONVERSION = f"""
create or replace macro sql_bad() as chr(2);
create or replace macro sql_string(t) as case when t is null then null
    when starts_with(t, '"') and not contains(t, '\\u') then t::varchar else sql_bad() end;
create or replace macro sql_canonical_int(u) as case when u is null then null
    when try_cast(u as bigint)::varchar = u then u else sql_bad() end;
create or replace macro sql_int(t) as
    sql_canonical_int(case when starts_with(t, '"') then (t::varchar)[2:-2] else t::varchar end);
create or replace macro sql_double_of(t, d) as case when t is null then null
    when d = 0 and not starts_with(t, '-') then '0.0'
    when abs(d) >= 1e-4 and abs(d) < 1e15 then to_json(d)::varchar else sql_bad() end;
create or replace macro sql_double(t) as sql_double_of(t, try_cast(t::varchar as double));
create or replace macro sql_bool(t) as case when t is null then null
    when t::varchar in ('true', 'false') then t::varchar else sql_bad() end;
create or replace macro sql_members(v) as (v.stringValue is not null)::int
    + (v.intValue is not null)::int + (v.doubleValue is not null)::int
    + (v.boolValue is not null)::int + (v.arrayValue is not null)::int;
create or replace macro sql_joined(p) as coalesce(list_aggr(p, 'string_agg', ','), '');
create or replace macro sql_scalar(v) as coalesce(sql_string(v.stringValue),
    sql_int(v.intValue), sql_double(v.doubleValue), sql_bool(v.boolValue));
create or replace macro sql_element(v) as case when sql_members(v) > 1 then sql_bad()
    else coalesce(sql_scalar(v), case when v.arrayValue is not null then sql_bad() end, 'null') end;
create or replace macro sql_array(a) as case when a is null then null
    when a.values is null then '[]'
    else '[' || sql_joined(list_transform(a.values, lambda y: sql_element(y))) || ']' end;
create or replace macro sql_value(v) as case when sql_members(v) > 1 then sql_bad()
    else coalesce(sql_scalar(v), sql_array(v.arrayValue), 'null') end;
create or replace macro sql_typed(kvs) as case
    when not (contains(kvs, '_value"') or contains(kvs, 'kvlistValue')
        or contains(kvs, 'bytesValue'))
    then json_transform(kvs, '{KEY_VALUES}') end;
create or replace macro sql_object(a) as case
    when len(list_distinct(list_transform(a, lambda x: x.key))) = len(a)
    then '{{' || sql_joined(list_transform(a, lambda x: case
        when starts_with(x.key, '"') and not contains(x.key, '\\') then x.key || ':' || sql_value(x.value)
        else sql_bad() end)) || '}}' end;
create or replace macro sql_attributes(kvs) as case
    when kvs is null or kvs = 'null' then '{{}}' else sql_object(sql_typed(kvs)) end;
"""


def _with_sql_conversion(sql: str) -> str:
    """The span query with span attributes converted by SQL_CONVERSION, Python for the rest."""
    converted = """converted as (
    select
        *,
        case when attrs_sql is null or contains(attrs_sql, chr(2))
            then otlp_attributes_json(kvs) else attrs_sql end as attrs_marked
    from (select *, sql_attributes(kvs) as attrs_sql from spans)
),

uncut as ("""
    out = sql.replace("otlp_attributes_json(kvs) as attrs_marked,", "")
    out = out.replace("uncut as (", converted, 1)
    out = out.replace("    from spans\n),\n\nlooked", "    from converted\n),\n\nlooked")
    assert out.count("from converted\n") == 1 and "sql_attributes" in out
    return out


def _small_batches(path: Path) -> list:
    """The directory's files as land_paths batches them: one merged chunk per BATCH_BYTES."""
    from fleetsignals.ingest.batch import BATCH_BYTES, _merge
    from fleetsignals.ingest.sources import read_chunks

    batches, pending, size = [], [], 0
    for file in sorted(path.iterdir()):
        chunks = list(read_chunks(file))
        pending += chunks
        size += sum(len(chunk.data) for chunk in chunks)
        if size >= BATCH_BYTES:
            batches.append(_merge(pending))
            pending, size = [], 0
    return batches + ([_merge(pending)] if pending else [])


def alternatives(path: Path, rounds: int) -> None:
    """CPU and wall seconds of the span query over the same batches, alternated: as shipped
    (Python attribute conversion); with the conversion in vectorized SQL (Python only for
    rare kinds); the ingest side of landing attributes in their OTLP form (the conversion a
    pass-through; the normalized columns still looked up, in the larger OTLP text, or not at
    all, as when they move to the build too), and the SQL conversion the build would then
    run over the landed text. Checks the SQL conversion lands the same rows."""
    from fleetsignals.config import load_config
    from fleetsignals.ingest.parse import SpanParser
    from fleetsignals.ingest.settings import IngestSettings

    settings = IngestSettings.from_config(load_config(None))
    batches = _small_batches(path)

    def parser() -> SpanParser:
        made = SpanParser(settings.vocabulary, (), settings.workers, settings.limits.attributes)
        made.con.execute(SQL_CONVERSION)
        return made

    shipped, in_sql, otlp, bare = parser(), parser(), parser(), parser()
    in_sql.sql = _with_sql_conversion(in_sql.sql)
    otlp.con.remove_function("otlp_attributes_json")
    otlp.con.execute("create or replace macro otlp_attributes_json(kvs) as kvs")
    # Nothing to convert or look up: the ingest side when normalizing moves to the build too.
    bare.con.remove_function("otlp_attributes_json")
    bare.con.execute("create or replace macro otlp_attributes_json(kvs) as '{}'")
    same = all(shipped.parse(b)[0].equals(in_sql.parse(b)[0]) for b in batches)
    print(f"SQL conversion lands the same rows as shipped: {same}")
    landed = [otlp.parse(b)[0].select(["attributes"]) for b in batches]

    def build_side() -> None:
        for table in landed:
            otlp.con.register("landed", table)
            otlp.con.sql("select sum(length(sql_attributes(attributes))) from landed").fetchall()

    variants = {
        "shipped (Python conversion)": lambda: [shipped.parse(b) for b in batches],
        "conversion in SQL": lambda: [in_sql.parse(b) for b in batches],
        "OTLP landed: ingest side": lambda: [otlp.parse(b) for b in batches],
        "OTLP landed, nothing looked up: ingest side": lambda: [bare.parse(b) for b in batches],
        "OTLP landed: SQL conversion in the build": build_side,
    }
    for round_no in range(1, rounds + 1):
        base_s, base_cpu = baseline(path)
        print(f"round {round_no}: orjson read+parse {base_s:.2f}s, CPU {base_cpu:.2f}s")
        for name, run in variants.items():
            started, cpu = time.perf_counter(), time.process_time()
            run()
            print(
                f"round {round_no}: {name}: {time.perf_counter() - started:.2f}s,"
                f" CPU {time.process_time() - cpu:.2f}s"
            )


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
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="also ingest with no worker processes each round (the before/after of workers)",
    )
    parser.add_argument(
        "--small-files",
        type=int,
        default=None,
        metavar="SPANS",
        help="split the input into files of about SPANS spans each (e.g. 320)",
    )
    parser.add_argument(
        "--alternatives",
        action="store_true",
        help="with --small-files: time splits of the span query's work instead of the ingest",
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
        if args.small_files:
            files = split(source, work / "small", args.small_files)
            source = work / "small"
            print(f"split into {files:,} files of about {spans // files:,} spans each")
            if args.alternatives:
                alternatives(source, args.rounds)
                return
        ratios, floors = [], []
        for round_no in range(1, args.rounds + 1):
            base_s, base_cpu = baseline(source)
            ingest_s, landed, memory, cpu = ingest(source, work / f"home{round_no}")
            if args.in_process:
                config = work / "in-process.yml"
                config.write_text("ingest: {processes_from_mib: 1000000}\n")
                alone_s, _, alone_memory, _ = ingest(source, work / f"alone{round_no}", config)
                print(
                    f"round {round_no}: in-process ingest {spans / alone_s:,.0f} spans/s"
                    f" ({alone_s:.1f}s), ratio {base_s / alone_s:.2f},"
                    f" peak PSS {alone_memory:,.0f} MiB"
                )
            floor_s = floor(source, work / f"floor{round_no}.parquet")
            assert landed == spans, (landed, spans)
            ratios.append(base_s / ingest_s)
            floors.append(base_s / floor_s)
            print(
                f"round {round_no}: orjson read+parse {spans / base_s:,.0f} spans/s ({base_s:.1f}s);"
                f" ingest {spans / ingest_s:,.0f} spans/s ({ingest_s:.1f}s), ratio {ratios[-1]:.2f},"
                f" peak PSS {memory:,.0f} MiB; floor {spans / floor_s:,.0f} spans/s"
                f" ({floor_s:.1f}s), ratio {floors[-1]:.2f}; CPU seconds: orjson {base_cpu:.1f},"
                f" ingest {cpu:.1f} (process tree), CPU ratio {base_cpu / cpu:.2f}"
            )
        print(
            f"ratio to orjson parse, median of {len(ratios)}:"
            f" ingest {statistics.median(ratios):.2f}, floor {statistics.median(floors):.2f}"
        )


if __name__ == "__main__":
    main()
