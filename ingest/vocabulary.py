"""The attribute vocabularies ingest normalizes, as data: one YAML file per dialect in
``ingest/dialects/`` (OTel GenAI current and legacy, OpenInference, OpenLLMetry, Vercel AI
SDK, LangSmith, Pydantic AI, Strands, Sentry, Langfuse), plus the operator's own under
``ingest.dialects`` in the config. docs/dialects.md describes the format.

A dialect maps attribute keys to the normalized fields (``FIELDS``), to the run
dimensions, and attribute values to an operation class (``llm``, ``tool``, ``agent``,
``other``). ``load_vocabulary`` merges them into one ``Vocabulary``, the single input of
the span query (``ingest/otlp_sql.py``): keys are tried in order, first present wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from fleetsignals.contract import RESOURCE_PREFIX, RUN_DIMENSIONS
from fleetsignals.errors import FleetsignalsError

# The normalized fields a dialect can fill, besides the dimensions.
FIELDS = (
    "model",
    "provider",
    "tool_name",
    "tool_call_id",
    "tool_arguments",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
)
TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
CLASSES = ("llm", "tool", "agent", "other")
# In a key's `when:`, this name means the span's operation class, not an attribute.
OPERATION = "operation"
# The run dimensions ingest normalizes are the contract's.
DIMENSIONS = RUN_DIMENSIONS
_SECTIONS = ("priority", "operation", "fields", "dimensions")


@dataclass(frozen=True)
class Key:
    """An attribute key, read only when attribute ``when_key`` (or the operation class,
    ``OPERATION``) equals ``when_value`` (case-insensitive). ``json`` names a member of a
    value that is a JSON object as text (Langfuse's usage_details, e.g. ``input``)."""

    name: str
    when_key: str | None = None
    when_value: str | None = None
    json: str | None = None


@dataclass(frozen=True)
class Dialect:
    name: str
    priority: int
    # attribute key -> ((value, class), ...), values lower-cased.
    operation: dict[str, tuple[tuple[str, str], ...]]
    fields: dict[str, tuple[Key, ...]]
    dimensions: dict[str, tuple[Key, ...]]


@dataclass(frozen=True)
class Vocabulary:
    """Everything the span query looks up, merged and in order (first present wins)."""

    # attribute key -> ((lower-cased value, class), ...), in the order rules are tried.
    operation: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    fields: dict[str, tuple[Key, ...]] = field(default_factory=dict)
    # Run dimensions and the per-call model: keys may read the resource (RESOURCE_PREFIX).
    dimensions: dict[str, tuple[Key, ...]] = field(default_factory=dict)
    dialects: tuple[str, ...] = ()


def _fail(where: str, message: str) -> FleetsignalsError:
    return FleetsignalsError(f"{where}: {message}")


def _key(item: Any, where: str, allow_resource: bool) -> Key:
    if isinstance(item, str) and item:
        if item.startswith(RESOURCE_PREFIX) and not allow_resource:
            raise _fail(where, f"{item!r}: only dimensions may read the resource")
        return Key(item)
    if isinstance(item, dict) and set(item) <= {"key", "when", "json"} and "key" in item:
        name, when, member = item["key"], item.get("when"), item.get("json")
        if not isinstance(name, str) or not name or name.startswith(RESOURCE_PREFIX):
            raise _fail(where, "'key' must be a span attribute key")
        if member is not None and (not isinstance(member, str) or not member):
            raise _fail(where, f"{name}: 'json' must name a member of the JSON value")
        if when is None:
            return Key(name, json=member)
        if not (isinstance(when, dict) and len(when) == 1):
            raise _fail(where, f"{name}: 'when' must be one attribute: value pair")
        ((when_key, when_value),) = when.items()
        if not isinstance(when_key, str) or not isinstance(when_value, str | int | bool):
            raise _fail(where, f"{name}: 'when' must be one attribute: value pair")
        if when_key == OPERATION and when_value not in CLASSES:
            raise _fail(where, f"{name}: when operation must be one of {', '.join(CLASSES)}")
        return Key(name, when_key, str(when_value).lower(), member)
    raise _fail(
        where,
        "each entry is an attribute key or {key: KEY, when: {ATTRIBUTE: VALUE}, json: MEMBER}",
    )


def _keys(value: Any, where: str, allow_resource: bool = False) -> tuple[Key, ...]:
    items = [value] if isinstance(value, str | dict) else value
    if not isinstance(items, list) or not items:
        raise _fail(where, "must be a list of attribute keys")
    return tuple(_key(item, where, allow_resource) for item in items)


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(where, "must be a mapping")
    return value


def parse_dialect(name: str, data: Any, where: str) -> Dialect:
    """One dialect from its YAML data; a FleetsignalsError naming ``where`` if malformed."""
    where = f"{where}: dialect {name!r}"
    if not isinstance(data, dict):
        raise _fail(where, "must be a mapping with keys " + ", ".join(_SECTIONS))
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r} (known: {', '.join(_SECTIONS)})")
    priority = data.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise _fail(where, "'priority' must be a whole number (lower is tried first)")
    operation: dict[str, tuple[tuple[str, str], ...]] = {}
    for key, values in _mapping(data.get("operation"), f"{where}: 'operation'").items():
        rules = _mapping(values, f"{where}: operation.{key}")
        if not isinstance(key, str) or not rules:
            raise _fail(where, f"operation.{key} must map attribute values to a class")
        for value, cls in rules.items():
            if cls not in CLASSES:
                raise _fail(
                    where,
                    f"operation.{key}.{value}: {cls!r} is not a class ({', '.join(CLASSES)})",
                )
        operation[key] = tuple((str(v).lower(), c) for v, c in rules.items())
    fields = {}
    for name_, value in _mapping(data.get("fields"), f"{where}: 'fields'").items():
        if name_ not in FIELDS:
            raise _fail(where, f"unknown field {name_!r} (known: {', '.join(FIELDS)})")
        fields[name_] = _keys(value, f"{where}: fields.{name_}")
    dimensions = {}
    for name_, value in _mapping(data.get("dimensions"), f"{where}: 'dimensions'").items():
        if name_ not in DIMENSIONS:
            known = ", ".join(DIMENSIONS)
            hint = " (model is a field)" if name_ == "model" else ""
            raise _fail(where, f"unknown dimension {name_!r}{hint} (known: {known})")
        dimensions[name_] = _keys(value, f"{where}: dimensions.{name_}", allow_resource=True)
    return Dialect(name, priority, operation, fields, dimensions)


def shipped_dialects() -> list[Dialect]:
    """The dialects in ``ingest/dialects/``, in priority order."""
    folder = resources.files("fleetsignals.ingest") / "dialects"
    found = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yml"):
            name = item.name.removesuffix(".yml")
            data = yaml.safe_load(item.read_text(encoding="utf-8"))
            found.append(parse_dialect(name, data, f"ingest/dialects/{item.name}"))
    return sorted(found, key=lambda d: (d.priority, d.name))


def user_dialects(given: Any, where: str, base: Path | None = None) -> list[Dialect]:
    """The config's ``ingest.dialects``: name -> a dialect mapping, or the path of a YAML
    file holding one (relative to the config file). Tried before the shipped ones, in order."""
    where = f"{where}: ingest.dialects"
    if given is None:
        return []
    if not isinstance(given, dict):
        raise _fail(where, "must map a dialect name to its mapping or to a YAML file")
    found = []
    for name, data in given.items():
        if isinstance(data, str):
            path = Path(data) if base is None else base / data
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise _fail(where, f"{name}: cannot read {path}: {exc.strerror}") from None
            except yaml.YAMLError:
                raise _fail(where, f"{name}: {path} is not valid YAML") from None
        found.append(parse_dialect(str(name), data, where))
    return found


def _merged(lists: Iterable[Iterable[Key]]) -> tuple[Key, ...]:
    out: list[Key] = []
    for keys in lists:
        out.extend(k for k in keys if k not in out)
    return tuple(out)


def merge(dialects: list[Dialect], dimension_keys: Mapping[str, list[str]]) -> Vocabulary:
    """One vocabulary from dialects (in the order given: first tried first) and the
    config's dimension keys (``Config.dimension_keys``: the operator's ``dimensions:``
    before the contract's defaults). A dimension tries those span keys, then the dialects'
    keys, then the resource keys, so a resource fallback (service.name) comes last."""
    operation: dict[str, list[tuple[str, str]]] = {}
    for dialect in dialects:
        for key, rules in dialect.operation.items():
            known = operation.setdefault(key, [])
            seen = {value for value, _ in known}
            known.extend(rule for rule in rules if rule[0] not in seen)
    fields = {
        name: _merged(d.fields.get(name, ()) for d in dialects)
        for name in FIELDS
        if name != "model"
    }
    dimensions: dict[str, tuple[Key, ...]] = {}
    for name, configured in dimension_keys.items():
        keys = [Key(k) for k in configured]
        span = [k for k in keys if not k.name.startswith(RESOURCE_PREFIX)]
        resource = [k for k in keys if k.name.startswith(RESOURCE_PREFIX)]
        source = "fields" if name == "model" else "dimensions"
        extra = [getattr(d, source).get(name, ()) for d in dialects]
        dimensions[name] = _merged([span, *extra, resource])
    return Vocabulary(
        operation=tuple((k, tuple(v)) for k, v in operation.items()),
        fields=fields,
        dimensions=dimensions,
        dialects=tuple(d.name for d in dialects),
    )


def load_vocabulary(
    given: Any, dimension_keys: Mapping[str, list[str]], where: str, base: Path | None = None
) -> Vocabulary:
    """The vocabulary of a config: its ``ingest.dialects`` (``given``), then the shipped
    dialects, with its dimension keys."""
    return merge(user_dialects(given, where, base) + shipped_dialects(), dimension_keys)


def dimension_var(vocabulary: Vocabulary) -> dict[str, list[str | dict[str, Any]]]:
    """The dimension keys as the dbt var ``dimensions`` takes them (macros/dimension_value.sql):
    a plain key as its name, a conditional or JSON-member key as a mapping."""

    def entry(key: Key) -> str | dict[str, Any]:
        if key.when_key is None and key.json is None:
            return key.name
        out: dict[str, Any] = {"key": key.name}
        if key.when_key is not None:
            out["when"] = {key.when_key: key.when_value}
        if key.json is not None:
            out["json"] = key.json
        return out

    return {name: [entry(k) for k in keys] for name, keys in vocabulary.dimensions.items()}
