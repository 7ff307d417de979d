"""OTLP/JSON records -> span rows, in one DuckDB query per chunk.

The query is ``ingest/sql/spans.sql`` and its parsing macros ``ingest/sql/macros.sql``
(both linted by SQLFluff); what depends on the attribute vocabulary (the operation
class, the normalized fields and dimensions, the tool arguments) is a macro generated
here from the merged dialects (``ingest/vocabulary.py``) by ``build_query``.

DuckDB parses the JSON (``json_transform`` into typed structs), flattens it and
computes the normalized columns on every core. Tolerance lives in the struct
type and the macros: both key spellings (lowerCamelCase and snake_case)
are declared and coalesced, int64s are read as text and cast, enums are matched
by number or name, ids are accepted as hex or base64. Unknown fields are not
declared, so they are ignored. Attribute lists (span, resource, scope, events,
links) are read as raw JSON text and converted to plain-value objects by the
Python functions of ``ingest/values.py``: per attribute that measured cheaper
than DuckDB lambdas, and it keeps every AnyValue kind exactly.

The query returns one row per span with the columns of ``SPAN_SCHEMA`` (less the
lineage ones) plus ``dt``/``hr`` (partition), ``line_no``, and ``problem`` (null
for a good span, else why it is rejected, with the span as JSON in ``rejected``).
A good span that the attribute limits cut (``ingest/values.py`` marks the converted
list) has ``rejected`` too: the whole span as sent, as an OTLP message
(``ingest/limits.py`` hands it to the quarantine). Records that yield no span are
judged by the caller (``ingest/parse.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from importlib import resources

import duckdb

from fleetsignals.contract import RESOURCE_PREFIX
from fleetsignals.ingest.values import (
    NO_LIMITS,
    AttributeLimits,
    Redactor,
    attributes_json,
    events_json,
    links_json,
)
from fleetsignals.ingest.vocabulary import (
    CLASSES,
    DIMENSIONS,
    OPERATION,
    TOKEN_COLUMNS,
    Key,
    Vocabulary,
)
from fleetsignals.sqltext import quote_literal


def _both(camel: str, type_: str) -> str:
    """A struct field declared in both spellings, e.g. traceId and trace_id."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()
    return f'"{camel}":{type_},"{snake}":{type_}'


_V = '"VARCHAR"'


def _traces_type() -> str:
    span = (
        "{"
        + ",".join(
            [
                _both("traceId", _V),
                _both("spanId", _V),
                _both("parentSpanId", _V),
                _both("traceState", _V),
                '"name":"VARCHAR"',
                '"kind":"VARCHAR"',
                _both("startTimeUnixNano", _V),
                _both("endTimeUnixNano", _V),
                '"attributes":"VARCHAR"',  # raw JSON text, converted in Python
                '"events":"VARCHAR"',
                '"links":"VARCHAR"',
                '"status":{"code":"VARCHAR","message":"VARCHAR"}',
            ]
        )
        + "}"
    )
    scope = '{"name":"VARCHAR","version":"VARCHAR","attributes":"VARCHAR"}'
    scope_spans = (
        "{"
        + ",".join(
            ['"scope":' + scope, _both("instrumentationLibrary", scope), '"spans":[' + span + "]"]
        )
        + "}"
    )
    resource_spans = (
        "{"
        + ",".join(
            [
                '"resource":{"attributes":"VARCHAR"}',
                _both("scopeSpans", "[" + scope_spans + "]"),
                _both("instrumentationLibrarySpans", "[" + scope_spans + "]"),
            ]
        )
        + "}"
    )
    return "{" + _both("resourceSpans", "[" + resource_spans + "]") + "}"


TRACES_DATA = _traces_type()

MACROS = (resources.files("fleetsignals.ingest") / "sql" / "macros.sql").read_text("utf-8")


def _path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


# The query itself (ingest/sql/spans.sql, linted by SQLFluff); the vocabulary's lookups are
# the macros generated below.
SPANS_SQL = (resources.files("fleetsignals.ingest") / "sql" / "spans.sql").read_text("utf-8")


class _Lookups:
    """Collects attribute keys into one json_extract_string list per side (span, resource)
    and writes the SQL expression of each vocabulary key over those lists."""

    def __init__(self) -> None:
        self.span: list[str] = []
        self.resource: list[str] = []
        self.sent: list[str] = []  # keys read in the span's attributes as sent (unredacted)

    def _at(self, side: list[str], key: str, column: str) -> str:
        if key not in side:
            side.append(key)
        return f"{column}[{side.index(key) + 1}]"

    def span_key(self, key: str) -> str:
        return self._at(self.span, key, "sv")

    def resource_key(self, key: str) -> str:
        return self._at(self.resource, key, "rv")

    def sent_key(self, key: str) -> str:
        return self._at(self.sent, key, "xv")

    def key(self, key: Key, read: Callable[[str], str] | None = None) -> str:
        """A key's value (``read`` gives the expression of a plain key), null unless its
        ``when`` condition holds."""
        value = (read or self.span_key)(key.name)
        if key.json is not None:
            value = f"json_extract_string(try(json({value})), {quote_literal(_path(key.json))})"
        if key.when_key is None:
            return value
        if key.when_key == OPERATION:
            subject = "operation"
        else:
            subject = f"lower({self.span_key(key.when_key)})"
        return f"case when {subject} = {quote_literal(key.when_value or '')} then {value} end"

    def first_of(self, keys: Sequence[Key]) -> str:
        """Span attributes first (keys in order), then the resource (keys in order)."""
        span = [self.key(k) for k in keys if not k.name.startswith(RESOURCE_PREFIX)]
        resource = [
            self.resource_key(k.name.removeprefix(RESOURCE_PREFIX))
            for k in keys
            if k.when_key is None and k.json is None
        ]
        return _coalesce(span + resource)

    def span_first_of(self, keys: Sequence[Key]) -> str:
        return _coalesce([self.key(k) for k in keys])


def _coalesce(items: list[str]) -> str:
    if not items:
        return "null::varchar"
    return items[0] if len(items) == 1 else "coalesce(" + ", ".join(items) + ")"


def _operation(look: _Lookups, vocabulary: Vocabulary) -> str:
    """The operation class: the first rule whose attribute has a listed value; else the
    evidence of an LLM call (a model and token usage on the span); else a tool call when
    the span names a tool; else other."""
    whens = []
    for key, rules in vocabulary.operation:
        value = f"lower({look.span_key(key)})"
        for cls in CLASSES:
            values = [quote_literal(v) for v, c in rules if c == cls]
            if values:
                whens.append(f"when {value} in ({', '.join(values)}) then '{cls}'")
    plain = [k for k in vocabulary.dimensions["model"] if k.when_key != OPERATION]
    model = look.span_first_of([k for k in plain if not k.name.startswith(RESOURCE_PREFIX)])
    # Keys read only for a given operation class cannot decide the class.
    usage = " or ".join(
        f"{look.span_first_of([k for k in vocabulary.fields[name] if k.when_key != OPERATION])}"
        " is not null"
        for name in ("input_tokens", "output_tokens")
        if vocabulary.fields[name]
    )
    if usage:
        whens.append(f"when {model} is not null and ({usage}) then 'llm'")
    # A tool's name on a span nothing else classified: a tool call (Pydantic AI's
    # "running tool" spans name no operation).
    tool_name = [k for k in vocabulary.fields["tool_name"] if k.when_key != OPERATION]
    if tool_name:
        whens.append(f"when {look.span_first_of(tool_name)} is not null then 'tool'")
    return "case " + " ".join(whens) + " else 'other' end"


def _fields(look: _Lookups, vocabulary: Vocabulary) -> str:
    """The normalized columns and dimensions, as one struct (the query expands it)."""
    columns = {
        "service_name": look.resource_key("service.name"),
        "tool_name": look.span_first_of(vocabulary.fields["tool_name"]),
        "tool_call_id": look.span_first_of(vocabulary.fields["tool_call_id"]),
        "model": look.first_of(vocabulary.dimensions["model"]),
        "provider": look.span_first_of(vocabulary.fields["provider"]),
    }
    for name in TOKEN_COLUMNS:
        columns[name] = f"otlp_int({look.span_first_of(vocabulary.fields[name])})"
    columns["cost_usd"] = f"try_cast({look.span_first_of(vocabulary.fields['cost_usd'])} as double)"
    for name in DIMENSIONS:
        columns[name] = look.first_of(vocabulary.dimensions[name])
    return "struct_pack(" + ", ".join(f"{n} := {e}" for n, e in columns.items()) + ")"


def build_query(vocabulary: Vocabulary, redact: Sequence[str]) -> tuple[str, dict, str]:
    """The span query over a table ``records(line_no, line)``, its bound parameters, and
    the macros it calls (``otlp_operation``, ``otlp_fields``, ``otlp_tool_args``,
    ``otlp_sent_values``), generated from the vocabulary."""
    look = _Lookups()
    operation = _operation(look, vocabulary)
    fields = _fields(look, vocabulary)
    # The tool-argument hash is taken before redaction: it identifies repeated calls
    # (loops) without storing the arguments, so it stays useful when they are redacted.
    # Unredacted, the attributes as sent are the converted ones: their keys join the span's
    # list (one JSON parse per span for all keys, not one per tool-argument key).
    sent = look.sent_key if redact else look.span_key
    args = _coalesce([look.key(k, sent) for k in vocabulary.fields["tool_arguments"]])
    sent_values = "null::varchar[]"
    if look.sent:
        paths = ", ".join(quote_literal(_path(k)) for k in look.sent)
        sent_values = f"json_extract_string(otlp_attributes_raw_json(kvs), [{paths}])"
    macros = f"""
create or replace macro otlp_operation(sv) as {operation};
create or replace macro otlp_fields(sv, rv, operation) as {fields};
create or replace macro otlp_tool_args(xv, sv, operation) as {args};
create or replace macro otlp_sent_values(kvs) as {sent_values};
"""
    params: dict[str, object] = {
        "trace_type": TRACES_DATA,
        "span_paths": [_path(k) for k in look.span],
        "resource_paths": [_path(k) for k in look.resource],
    }
    return SPANS_SQL, params, macros


def register(
    con: duckdb.DuckDBPyConnection, redact: Redactor | None, limits: AttributeLimits = NO_LIMITS
) -> None:
    """Create the macros and the Python functions for attribute lists on a connection."""
    functions = {
        "otlp_attributes_json": lambda raw: attributes_json(raw, redact, limits),
        "otlp_attributes_raw_json": lambda raw: attributes_json(raw, None),
        "otlp_events_json": lambda raw: events_json(raw, redact, limits),
        "otlp_links_json": lambda raw: links_json(raw, redact, limits),
    }
    for name, function in functions.items():
        con.create_function(
            name, function, ["VARCHAR"], "VARCHAR", side_effects=False, null_handling="special"
        )
    con.execute(MACROS)
