"""Signal definitions: ``<name>.sql`` files in the signal dirs, with optional YAML settings.

Settings live either in a front-matter comment at the very top of the SQL file::

    /* ---
    severity: critical
    for: 10m
    summary: "{agent_name}: P95 cost {value:.2f}x baseline"
    --- */
    select ...

(a leading ``/* ... */`` comment whose first line is ``---``; the closing
``---`` is optional), or in ``_signals.yml`` beside the SQL files, mapping
signal name -> settings. Every setting is optional; a bare SQL file is a
valid signal. Loading reports each bad signal with its file and the problem
and keeps the good ones, so one broken file never silences the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import yaml

from fleetsignals.alerts.templates import template_fields
from fleetsignals.errors import FleetsignalsError
from fleetsignals.sandbox import QueryGuard, check_query
from fleetsignals.timeutil import parse_duration

SETTINGS_FILE = "_signals.yml"
SEVERITIES = ("critical", "error", "warning", "info")
SETTINGS = {
    "description",
    "severity",
    "every",
    "for",
    "keep_firing_for",
    "summary",
    "runbook",
    "labels",
    "params",
    "limit",
}
EVAL_AT = "eval_at"
# Labels the alert pipeline sets itself; a signal may not override them.
RESERVED_LABELS = {"alertname", "severity"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Comments and string literals, removed before looking for wall-clock functions.
_NOT_CODE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", re.S)
_WALL_CLOCK = re.compile(
    r"\b(now|today|get_current_time|get_current_timestamp|current_localtimestamp)\s*\("
    r"|\b(current_timestamp|current_date|current_time|localtimestamp|localtime)\b",
    re.I,
)
_NUMERIC = re.compile(
    r"(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT"
    r"|FLOAT|DOUBLE|DECIMAL.*)"
)


@dataclass(frozen=True)
class Signal:
    """One loaded signal: its query and its settings with defaults applied."""

    name: str
    path: Path
    sql: str
    description: str = ""
    severity: str = "warning"
    every: timedelta = timedelta(minutes=5)
    for_: timedelta = timedelta(0)
    keep_firing_for: timedelta = timedelta(0)
    summary: str = ""
    runbook: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    # Most instances one evaluation may return (None: the operator's alerts.instance_limit).
    limit: int | None = None
    # Named parameters the query refers to ($eval_at and those in params).
    parameter_names: frozenset[str] = frozenset()

    def bind(self, eval_at: datetime) -> dict[str, Any]:
        """Parameters for one evaluation: only the names the query uses (DuckDB rejects extras)."""
        values = {**self.params, EVAL_AT: eval_at}
        return {name: values[name] for name in self.parameter_names}


@dataclass(frozen=True)
class SignalProblem:
    """A signal that could not be loaded or evaluated: where, and why."""

    name: str
    path: Path | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{where}signal {self.name}: {self.message}"


def is_numeric_type(type_name: str) -> bool:
    return bool(_NUMERIC.fullmatch(type_name.upper()))


def _front_matter(text: str) -> tuple[str | None, int]:
    """YAML of a leading ``/* --- ... --- */`` comment, and the line it starts on."""
    stripped = text.lstrip()
    if not stripped.startswith("/*"):
        return None, 0
    end = stripped.find("*/")
    if end < 0:
        return None, 0
    lines = stripped[2:end].split("\n")
    if lines[0].strip() != "---":
        return None, 0
    if lines[-1].strip() == "---":
        lines = lines[:-1]
    elif len(lines) > 1 and lines[-1].strip() == "" and lines[-2].strip() == "---":
        lines = lines[:-2]
    offset = len(text) - len(stripped)
    return "\n".join(lines[1:]), text[:offset].count("\n") + 2


def _parse_yaml(text: str, first_line: int) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + first_line}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise ValueError(f"invalid YAML{line}: {problem}") from None


def _duration(settings: dict[str, Any], key: str, default: timedelta) -> timedelta:
    if key not in settings or settings[key] is None:
        return default
    try:
        value = parse_duration(settings[key])
    except FleetsignalsError as exc:
        raise ValueError(f"{key}: {exc}") from None
    if value < timedelta(0):
        raise ValueError(f"{key} must not be negative")
    return value


def _text(settings: dict[str, Any], key: str) -> str:
    value = settings.get(key) or ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    return value


def _mapping(settings: dict[str, Any], key: str) -> dict[str, Any]:
    value = settings.get(key) or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and _IDENT.fullmatch(k) for k in value
    ):
        raise ValueError(f"{key} must map names (letters, digits, _) to values")
    return value


def build_signal(
    name: str,
    path: Path,
    sql: str,
    settings: dict[str, Any],
    parser: duckdb.DuckDBPyConnection | None = None,
) -> Signal:
    """Validate settings and the SQL's shape (no database needed); raises ValueError.

    ``parser``: any DuckDB connection to parse with (opening one costs ~50 ms).
    """
    unknown = sorted(set(settings) - SETTINGS)
    if unknown:
        raise ValueError(
            f"unknown setting {', '.join(unknown)} (known: {', '.join(sorted(SETTINGS))})"
        )
    severity = settings.get("severity") or "warning"
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    every = _duration(settings, "every", timedelta(minutes=5))
    for_ = _duration(settings, "for", timedelta(0))
    keep_firing_for = _duration(settings, "keep_firing_for", timedelta(0))
    if every <= timedelta(0):
        raise ValueError("every must be a positive duration such as 5m")
    labels = {k: str(v) for k, v in _mapping(settings, "labels").items()}
    if RESERVED_LABELS & set(labels):
        raise ValueError(f"labels may not set {', '.join(sorted(RESERVED_LABELS & set(labels)))}")
    params = _mapping(settings, "params")
    if EVAL_AT in params:
        raise ValueError("params may not set eval_at: it is bound to the evaluation time")
    for key, value in params.items():
        if isinstance(value, dict):
            raise ValueError(f"params.{key} must be a number, text, boolean or list")
    summary, description = _text(settings, "summary"), _text(settings, "description")
    runbook = _text(settings, "runbook")
    limit = settings.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a whole number of instances >= 1, not {limit!r}")
    for key, template in (("summary", summary), ("description", description)):
        try:
            template_fields(template)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    statements = _statements(sql, parser)
    clock = _WALL_CLOCK.search(_NOT_CODE.sub(" ", sql))
    if clock:
        raise ValueError(
            f"the query reads the wall clock ({clock.group(0).strip(' (')}): use $eval_at, "
            "so live evaluation and backtests see the same time"
        )
    used = set(statements[0].named_parameters)
    missing = sorted(used - set(params) - {EVAL_AT})
    if missing:
        raise ValueError(
            f"the query uses ${', $'.join(missing)} but params does not set "
            f"{', '.join(missing)}: add them under params, or use $eval_at"
        )
    unused = sorted(set(params) - used)
    if unused:
        raise ValueError(f"params {', '.join(unused)} not used by the query (typo?)")
    return Signal(
        name=name,
        path=path,
        sql=statements[0].query.strip().rstrip(";"),
        description=description,
        severity=severity,
        every=every,
        for_=for_,
        keep_firing_for=keep_firing_for,
        summary=summary,
        runbook=runbook,
        labels=labels,
        params=params,
        limit=limit,
        parameter_names=frozenset(used),
    )


def _statements(sql: str, parser: duckdb.DuckDBPyConnection | None = None) -> list[Any]:
    if parser is None:
        with duckdb.connect() as own:
            return _statements(sql, own)
    try:
        statements = parser.extract_statements(sql)
    except duckdb.Error as exc:
        raise ValueError(f"SQL error: {_one_line(exc)}") from None
    if len(statements) != 1:
        raise ValueError(f"the file must hold exactly one query, found {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise ValueError(
            f"refused: a signal must be one select query, this is {kind.name} "
            "(signals run read-only and cannot change data)"
        )
    # The sandbox's gate too: functions that show the host's settings or environment.
    check_query(parser, sql)
    return statements


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def check_against(
    con: duckdb.DuckDBPyConnection, signal: Signal, timeout: float | None = None
) -> None:
    """Bind the query against a snapshot (no rows read); raises ValueError on SQL or shape errors.

    Binding opens the files a query names, so it runs under the same time limit as the query.
    """
    try:
        with QueryGuard(con, timeout):
            relation = con.sql(signal.sql, params=signal.bind(datetime(2000, 1, 1)))
            columns = relation.columns
            types = [str(t) for t in relation.types]
    except duckdb.InterruptException:
        raise ValueError(
            f"checking the query timed out after {timeout:g}s (alerts.query_timeout)"
        ) from None
    except duckdb.Error as exc:
        raise ValueError(f"SQL error: {_one_line(exc)}") from None
    kinds = dict(zip(columns, types, strict=True))
    if "value" not in kinds:
        raise ValueError(
            f"the query must return a numeric column named value (it returns {', '.join(columns)})"
        )
    if not is_numeric_type(kinds["value"]):
        raise ValueError(f"column value must be numeric, it is {kinds['value']}")
    known = set(columns) | set(signal.labels) | {"signal"}
    for key, template in (("summary", signal.summary), ("description", signal.description)):
        unknown = sorted(set(template_fields(template)) - known)
        if unknown:
            raise ValueError(
                f"{key} refers to {', '.join(unknown)}, which the query does not return"
            )


def _settings_files(directory: Path) -> tuple[dict[str, Any], list[SignalProblem]]:
    path = directory / SETTINGS_FILE
    if not path.is_file():
        return {}, []
    try:
        data = _parse_yaml(path.read_text(encoding="utf-8"), 1) or {}
    except ValueError as exc:
        return {}, [SignalProblem("*", path, str(exc))]
    if not isinstance(data, dict) or not all(isinstance(v, dict | None) for v in data.values()):
        return {}, [SignalProblem("*", path, "must map each signal name to its settings")]
    return {str(k): v or {} for k, v in data.items()}, []


def load_signals(
    dirs: list[str | Path],
    con: duckdb.DuckDBPyConnection | None = None,
    names: list[str] | tuple[str, ...] | None = None,
    timeout: float | None = None,
) -> tuple[list[Signal], list[SignalProblem]]:
    """Load every signal in ``dirs`` (only ``names`` if given); check SQL against ``con`` if given
    (a sandboxed connection, ``fleetsignals.sandbox``), each check within ``timeout`` seconds.

    Returns the good signals, sorted by name, and a problem per bad one.
    Raises FleetsignalsError for a missing directory or an unknown name.
    """
    signals: dict[str, Signal] = {}
    problems: list[SignalProblem] = []
    with duckdb.connect() as parser:
        for entry in dirs:
            _load_dir(Path(entry), con, parser, names, signals, problems, timeout)
    if names:
        seen = set(signals) | {p.name for p in problems}
        unknown = [n for n in names if n not in seen]
        if unknown:
            raise FleetsignalsError(
                f"unknown signal {', '.join(unknown)}: no such .sql file in "
                f"{', '.join(str(d) for d in dirs)}"
            )
    return [signals[n] for n in sorted(signals)], problems


def _load_dir(
    directory: Path,
    con: duckdb.DuckDBPyConnection | None,
    parser: duckdb.DuckDBPyConnection,
    names: list[str] | tuple[str, ...] | None,
    signals: dict[str, Signal],
    problems: list[SignalProblem],
    timeout: float | None = None,
) -> None:
    if not directory.is_dir():
        raise FleetsignalsError(
            f"signal dir {directory} does not exist: create it, or set signal_dirs in the config"
        )
    settings_by_name, found = _settings_files(directory)
    problems += found
    sql_files = {p.stem: p for p in sorted(directory.glob("*.sql"))}
    for name in sorted(set(settings_by_name) - set(sql_files)):
        problems.append(SignalProblem(name, directory / SETTINGS_FILE, f"no {name}.sql beside it"))
    for name, path in sql_files.items():
        if names and name not in names:
            continue
        if name in signals:
            problems.append(
                SignalProblem(name, path, f"defined twice (also in {signals[name].path})")
            )
            continue
        try:
            signal = _load_file(name, path, settings_by_name.get(name), parser)
            if con is not None:
                check_against(con, signal, timeout)
        except ValueError as exc:
            problems.append(SignalProblem(name, path, str(exc)))
            continue
        signals[name] = signal


def _load_file(
    name: str, path: Path, side_settings: dict[str, Any] | None, parser: duckdb.DuckDBPyConnection
) -> Signal:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read: {exc}") from None
    front, first_line = _front_matter(text)
    settings: Any = {}
    if front is not None:
        settings = _parse_yaml(front, first_line) or {}
        if side_settings is not None:
            raise ValueError(f"settings given both in front matter and in {SETTINGS_FILE}")
    elif side_settings is not None:
        settings = side_settings
    if not isinstance(settings, dict):
        raise ValueError("settings must be a YAML mapping of setting -> value")
    return build_signal(name, path, text, settings, parser)
