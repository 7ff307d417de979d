"""The SQL attribute conversion that ``bench/ingest.py --alternatives`` measures converts
every value kind exactly as the shipped Python conversion (``ingest/values.py``), so the
side-by-side figures compare equal work (docs/ingest.md, "Small files")."""

from __future__ import annotations

import importlib.util
import json
import random
import struct
from pathlib import Path

import duckdb
import pytest

from fleetsignals.ingest.otlp_sql import register
from fleetsignals.ingest.values import attributes_json

REPO = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_ingest", REPO / "bench" / "ingest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def text(value: object) -> str:
    """JSON text as producers write it (big integers included, which orjson cannot write)."""
    return json.dumps(value, ensure_ascii=False)


def kv(value: object, key: object = "k") -> dict:
    return {"key": key, "value": value}


def values(*items: object) -> dict:
    return {"arrayValue": {"values": list(items)}}


HUGE = [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30]
INTS = ["123", 123, "-0", "0123", " 12", "1_000", "+5", "abc", "", 1.0, 1.5, True, *HUGE]
INTS += [str(n) for n in HUGE]
DOUBLES = [0.2, 1, 1.0, -0.0, 0.0, 1e16, 1e15, 123456789012345.6, 1e-4, 1e-5, 5e-324]
DOUBLES += [1.7976931348623157e308, "NaN", "Infinity", "-Infinity", "1.5", "abc", True, 2**64]
BOOLS = [True, False, "true", "TRUE", "False", 1, 0, "yes"]
STRINGS = [
    "plain",
    "",
    "日本 😀 é",
    'a"b\\c',
    "\x01\n\t\x7f",
    "\x1b[0m\x1f",
    "\u2028",
    "/</script>",
    "\\u0041",
]

# Every kind in both spellings, the odd encodings producers send, and malformed values.
CASES: list[object] = [
    [kv({"stringValue": s}) for s in STRINGS],
    [kv({"string_value": s}) for s in STRINGS],
    [kv({member: i}, f"k{n}") for n, i in enumerate(INTS) for member in ("intValue",)],
    [kv({"int_value": i}, f"k{n}") for n, i in enumerate(INTS)],
    [kv({"doubleValue": d}, f"k{n}") for n, d in enumerate(DOUBLES)],
    [kv({"double_value": d}, f"k{n}") for n, d in enumerate(DOUBLES)],
    [kv({"boolValue": b}, f"k{n}") for n, b in enumerate(BOOLS)],
    [kv({"bool_value": b}, f"k{n}") for n, b in enumerate(BOOLS)],
    [kv({"bytesValue": "aGVsbG8="}), kv({"bytes_value": "aGVsbG8="}, "b")],
    [kv(values({"stringValue": "stop"}, {"stringValue": "tool_calls"}))],
    [kv(values({"intValue": "1"}, {"doubleValue": 0.5}, {"boolValue": True}, {}))],
    [kv(values()), kv({"arrayValue": {}}, "b"), kv({"arrayValue": {"values": "x"}}, "c")],
    [kv(values(values({"stringValue": "nested"}), {"stringValue": "x"}))],
    [kv({"array_value": {"values": [{"string_value": "snake"}]}})],
    [kv({"kvlistValue": {"values": [kv({"intValue": "7"}, "inner")]}})],
    [kv(values({"kvlistValue": {"values": [kv({"stringValue": "deep"})]}}))],
    [kv({}), kv(None, "b"), {"key": "c"}, kv("text", "d"), kv([1], "e")],
    [kv({"stringValue": "a", "intValue": "1"}), kv({"intValue": "1", "stringValue": "a"}, "b")],
    [kv({"stringValue": None, "intValue": "7"}), kv({"boolValue": None}, "b")],
    [kv({"foo": 1}), kv({"foo": 1, "stringValue": "x"}, "b"), kv({"stringValue": None}, "c")],
    [kv({"stringValue": "first"}), kv({"stringValue": "second"})],  # duplicate key
    [kv({"stringValue": "x"}, 5), kv({"stringValue": "y"}, None), {"value": {"stringValue": "z"}}],
    [kv({"stringValue": "x"}, k) for k in ["日本", 'q"uote', "back\\slash", "\x01", ""]],
    [5, "x", None, kv({"stringValue": "kept"})],
    {"not": "a list"},
    [],
    None,
]


def random_doubles(count: int, seed: int) -> list:
    """Doubles of every magnitude and random bit patterns: where DuckDB's and orjson's
    number formats part is found by the conversion, not assumed by the test."""
    rnd = random.Random(seed)
    out: list[float] = []
    while len(out) < count:
        if rnd.random() < 0.5:
            out.append(rnd.uniform(-1, 1) * 10.0 ** rnd.randint(-12, 22))
        else:
            bits = struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
            if bits == bits and abs(bits) != float("inf"):
                out.append(bits)
    return out


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    register(connection, None)
    connection.execute(_bench().SQL_CONVERSION)
    yield connection
    connection.close()


def convert(con, lists: list) -> list[tuple[str, bool]]:
    """Per attribute list: (the conversion as the measured span query does it, whether SQL
    did it alone), each list read as the span query reads it: raw JSON text out of
    json_transform."""
    return con.sql(
        """select case when r is null or contains(r, chr(2)) then otlp_attributes_json(kvs)
                       else r end, r is not null and not contains(r, chr(2))
           from (select n, kvs, sql_attributes(kvs) as r
                 from (select n, json_transform(t, '{"a":"VARCHAR"}').a as kvs
                       from unnest($texts) with ordinality as u(t, n)))
           order by n""",
        params={"texts": [text({"a": attributes}) for attributes in lists]},
    ).fetchall()


def python(lists: list) -> list[str]:
    return [attributes_json(text(attributes)) for attributes in lists]


@pytest.mark.parametrize("attributes", CASES, ids=range(len(CASES)))
def test_every_value_kind_converts_as_the_python_conversion(con, attributes: object) -> None:
    # The list, then each entry alone: one entry SQL leaves to Python sends its whole list.
    alone = [[item] for item in attributes] if isinstance(attributes, list) else []
    lists = [attributes, *alone]
    assert [got for got, _ in convert(con, lists)] == python(lists)


def test_doubles_of_every_magnitude_convert_as_the_python_conversion(con) -> None:
    lists = [[kv({"doubleValue": double})] for double in random_doubles(2000, seed=1)]
    assert [got for got, _ in convert(con, lists)] == python(lists)


def test_the_common_kinds_are_converted_in_sql(con) -> None:
    """Without this the comparison above would hold with every list handed to Python."""
    common = [
        kv({"stringValue": "日本 é"}, "s"),
        kv({"intValue": "-42"}, "i"),
        kv({"intValue": 7}, "j"),
        kv({"doubleValue": 0.25}, "d"),
        kv({"doubleValue": 3}, "e"),
        kv({"boolValue": True}, "b"),
        kv(values({"stringValue": "stop"}, {"intValue": "2"}), "a"),
        kv({}, "n"),
    ]
    [(got, in_sql)] = convert(con, [common])
    assert in_sql
    assert got == attributes_json(text(common))
