"""Configuration: ``fleetsignals.yml`` merged over documented defaults.

Every key is optional. Strings may hold ``${ENV_VAR}`` references, resolved when
the file is loaded, so secrets (webhook URLs, tokens) stay out of the file. Errors
name a key, never its value, so a secret cannot reach a terminal or a log through one.
The defaults below are the reference documentation of every key.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleetsignals.contract import DIMENSION_KEYS
from fleetsignals.errors import FleetsignalsError
from fleetsignals.resources import shipped_signals

# The signals that ship with fleetsignals (the repository's signals/ directory).
SHIPPED_SIGNALS = shipped_signals()

DEFAULTS: dict[str, Any] = {
    # Directories holding signals (<name>.sql), relative to the working directory.
    # Unset: ./signals when the working directory has one, else the shipped signals
    # (SHIPPED_SIGNALS), so every command works from any directory.
    "signal_dirs": ["signals"],
    # dimension -> attribute keys tried before the built-in defaults (fleetsignals.contract).
    "dimensions": {},
    # Attribute keys (exact, or fnmatch globs like "gen_ai.prompt.*") dropped at ingest.
    "redact": [],
    "ingest": {
        # Parsing threads (DuckDB) and, for big files, worker processes; 0 means one per core.
        "workers": 0,
        # Files of at least this many MiB (on disk) are parsed by `workers` processes, so
        # the Python part of parsing uses every core; smaller ones in-process (starting
        # the processes costs about a second). 0: always processes.
        "processes_from_mib": 64,
        # Files modified more recently than this are left for a later run (a Collector
        # may still be writing them). The scheduler's inbox wants a few seconds.
        "settle": "0s",
        # Trace producers are untrusted: implausible span times are quarantined, judged
        # against the landing time of the span's file (so a rebuild judges the same way).
        # A span ending more than this after its file landed: its clock runs ahead, or it
        # lies. Spans are exported after they end, so only clock skew makes a legitimate
        # span end after it landed; NTP keeps skew in milliseconds, 1h forgives a badly
        # kept clock. null: no bound (the warehouse still never lets a span move its
        # watermark past the span's landing time, docs/warehouse.md).
        "max_future": "1h",
        # A span starting more than this before its file landed; null: no bound, since
        # backfills of old traces are normal (e.g. "400d" to refuse older ones).
        "max_past": None,
        # A span lasting longer than this (its end minus its start); null: no bound. One
        # such span would make every build that recomputes its run re-read the lake back
        # to its start.
        "max_duration": "7d",
        # The longest string (characters) an attribute value keeps in the lake, as OTel's
        # AttributeValueLengthLimit; longer ones are cut there, with a marker, and the
        # whole span is kept in the quarantine (docs/ingest.md). LLM prompts and
        # completions of hundreds of KB stay whole. 0: no limit.
        "attribute_value_length_limit": 1048576,
        # The most entries kept per list in a span (attributes of the span, resource,
        # scope, events, links; array and kvlist values; events and links themselves),
        # as OTel's AttributeCountLimit; the rest is dropped from the lake and the whole
        # span kept in the quarantine. 0: no limit.
        "attribute_count_limit": 1024,
        # Attribute vocabularies of your own, tried before the shipped ones
        # (ingest/dialects/, docs/dialects.md): name -> a dialect mapping (operation,
        # fields, dimensions), or the path of a YAML file holding one (relative to this file).
        "dialects": {},
    },
    # Quality labels (`fleetsignals label`, OTel GenAI evaluation results; docs/labels.md).
    "labels": {
        # Categorical labels (lower case) that count as bad: bad-label shares, has_bad_label,
        # quality_drop and retention's bad_label reason read this.
        "bad_labels": [
            "bad",
            "thumbs_down",
            "negative",
            "incorrect",
            "wrong",
            "fail",
            "failed",
            "unhelpful",
        ],
        # Score name -> threshold: a score below it is bad, e.g. {helpfulness: 0.5}.
        "bad_score_below": {},
    },
    "warehouse": {
        # The engine `fleetsignals build` runs the dbt project on: duckdb (embedded, the
        # default) or spark (dbt-spark; see docs/scale-out.md). `build --engine` overrides.
        "engine": "duckdb",
        # A run with no root span and no new span for this long is `timeout`.
        "stale_after": "30m",
        # Incremental builds re-read spans that ended this long before the last build,
        # so late and out-of-order spans are absorbed.
        "lookback": "2h",
        # Spans landed this long before the previous build's newest span are re-read, so a
        # file renamed into the lake while that build ran is not missed.
        "landed_overlap": "10m",
        # Directory of user price CSVs (columns of seeds/model_prices.csv) that take
        # priority over the shipped price table; default HOME/prices.
        "prices": None,
        # Superseded snapshots (and Parquet files only they use) are deleted this long
        # after the next one is published, so queries already running can finish.
        "snapshot_grace": "30m",
    },
    "scheduler": {
        # Directory the scheduler ingests from (default HOME/inbox).
        "inbox": None,
        "ingest_every": "1m",
        "build_every": "5m",
        "retain_every": "1h",
        # Inbox files modified more recently than this (or ingest.settle, if longer) are
        # left for the next pass: a Collector may still be writing them.
        "settle": "5s",
    },
    # The OTLP/HTTP receiver (`fleetsignals receive`, docs/receive.md). It writes each
    # accepted request to the scheduler's inbox (scheduler.inbox), under otlp-http/.
    "receive": {
        # `fleetsignals run` also starts the receiver when true.
        "enabled": False,
        # HOST:PORT to listen on (--listen overrides); 0.0.0.0:4318 accepts remote senders.
        "listen": "127.0.0.1:4318",
        # A bearer token senders must present (Authorization: Bearer ...), else 401:
        # {credentials_file: /path} (read at each request) or {credentials: ${ENV_VAR}}.
        # null accepts any sender: fine on loopback, warned about on another address.
        "authorization": None,
        # Largest request body, also once gunzipped; larger ones are answered 413.
        "max_body_mib": 16,
        # Requests read and converted at once (memory: each may take a few times its body);
        # more are answered 503 with Retry-After.
        "max_in_flight": 16,
        # Back-pressure: while this many files, or MiB, written by the receiver wait for
        # ingest, requests are answered 429 with Retry-After (0: no limit).
        "max_backlog_files": 10000,
        "max_backlog_mib": 1024,
        # Answer 503 with Retry-After rather than leave less than this free on the inbox's disk.
        "min_free_mib": 256,
        # The Retry-After of 429 and 503 answers.
        "retry_after": "10s",
        # The receiver deletes its inbox files this long after ingest landed (or quarantined)
        # them: the lake holds their spans. null keeps them.
        "delete_landed_after": "1h",
    },
    # Notification sinks: a list of {type: stdout|file|webhook|alertmanager|slack, ...}
    # (docs/signals.md "Sinks"). HTTP sinks (webhook, alertmanager, slack) take, as in
    # Prometheus' http_config:
    #   url: http(s) URL; user:password@ in it is sent as basic auth, then removed
    #   basic_auth: {username: ..., password: ... | password_file: /path}
    #   authorization: {type: Bearer, credentials: ... | credentials_file: /path}
    #   headers: {Name: value}
    # *_file is read at every request (trimmed), so rotating it needs no restart.
    # A sink is shown everywhere as its name and scheme://host[:port] only: the URL's
    # path, query and userinfo, the credentials and header values never appear in
    # errors, logs, the outbox or reports.
    "notify": [],
    "alerts": {
        # Re-notify a firing alert this often (Alertmanager's repeat_interval).
        "repeat_interval": "4h",
        # A resolved alert is remembered (and re-sent to Alertmanager) this long, then
        # forgotten (Prometheus' resolved retention).
        "resolved_retention": "15m",
        # A signal query running longer than this (from loading and checking its SQL to
        # fetching its last row) is interrupted and reported as failed.
        "query_timeout": "2m",
        # Most alert instances one evaluation of a signal may return; a signal returning
        # more fails (nothing of it applied), as a Prometheus rule over its `limit` does.
        # A signal's own `limit` setting may lower it, never raise it.
        "instance_limit": 10000,
        # Timeout of one delivery attempt to a sink (HTTP request, file append).
        "send_timeout": "10s",
        # Failed deliveries are retried after retry_initial, doubling up to retry_max.
        "retry_initial": "10s",
        "retry_max": "10m",
        # Prometheus' rules.alert.for-grace-period: a pending alert seen again after a gap
        # longer than its cadence (max(every, scheduler.build_every)) plus this grace (an
        # outage) cannot fire before this much more time, nor before its remaining `for`.
        "for_grace_period": "10m",
    },
    # Where analysts' SQL runs (signals, `fleetsignals sql`): docs/signals.md "SQL sandbox".
    "sandbox": {
        # DuckDB memory limit of each sandboxed connection (e.g. 2GB, 512MB); a query needing
        # more spills to disk or fails, instead of exhausting the host.
        "memory_limit": "2GB",
        # `fleetsignals sql` stops a query running longer than this (parse to last row).
        "sql_timeout": "5m",
    },
    "retention": {
        "grace": "1h",
        # Runs are decided only this long after they ended, if longer than grace, so quality
        # labels that arrive late (human feedback) still keep a bad run's spans (reason
        # bad_label). Longer keeps every run's spans longer (bytes) for more evidence
        # (docs/retention.md, "Waiting for labels").
        "label_wait": "1h",
        "sample_rate": 0.10,
        # What the samples give equal chances: runs (the contract's uniform sample), or
        # spans: a run's chance falls with its spans (and bytes), the mean chance per run
        # stays the rate and sample_weight stays 1 / chance (docs/retention.md).
        "sample_by": "runs",
        "cost_tail_quantile": 0.99,
        # Policies in the Collector tail_sampling vocabulary (docs/retention.md); null means
        # the built-in ones: error/timeout, cost tail (cost_tail_quantile), signal-flagged,
        # a uniform sample (sample_rate).
        "policies": None,
        # Re-evaluate signals over the decided period to find the runs they flagged
        # (besides the live alert state); false reads the alert state only.
        "reevaluate_signals": True,
        # Alerts without a run_id label name a group (agent_name, prompt_variant, tool_name):
        # keep its evidence runs whole (reason anomaly: the failing calls of a correlated
        # failure, the runs above the baseline P95 of a cost jump or depth tail, the
        # outlying runs of a drift) and sample its other runs with weights (reason
        # sampled); false: only runs named by run_id or an anomaly table (docs/retention.md).
        "flag_groups": True,
        # A flagged group's other runs are kept with probability
        # min(1, max(group_sample_rate, group_min_runs / their number)), weight 1 / that;
        # null means sample_rate.
        "group_sample_rate": None,
        "group_min_runs": 20,
        # Evidence rules of your own group-naming signals, by signal name (the shipped ones
        # are built in), e.g. {my_signal: {kind: above, column: cost_usd, threshold:
        # base_p95}}; kinds: failed_call, above, anomalous, none (the default for signals
        # not listed: the group is only sampled).
        "evidence": {},
        # Replaced lake files wait this long in lake/_retention/trash before deletion.
        "trash_for": "1h",
    },
}

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Config:
    """Loaded configuration; ``data`` has every key of DEFAULTS."""

    data: dict[str, Any]
    path: Path | None = None
    dimension_keys: dict[str, list[str]] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


def _expand_env(value: Any, where: str) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise FleetsignalsError(
                    f"{where}: environment variable {name} is not set (referenced as ${{{name}}})"
                )
            return os.environ[name]

        return _ENV_REF.sub(replace, value)
    if isinstance(value, list):
        return [_expand_env(v, where) for v in value]
    if isinstance(value, dict):
        return {k: _expand_env(v, where) for k, v in value.items()}
    return value


def _merge(defaults: dict[str, Any], given: dict[str, Any], where: str, prefix: str = "") -> dict:
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        name = f"{prefix}{key}"
        if key not in defaults:
            known = ", ".join(sorted(defaults))
            raise FleetsignalsError(f"{where}: unknown key {name!r} (known keys: {known})")
        if isinstance(defaults[key], dict) and defaults[key] and key != "dimensions":
            if not isinstance(value, dict):
                raise FleetsignalsError(f"{where}: {name!r} must be a mapping")
            merged[key] = _merge(defaults[key], value, where, f"{name}.")
        else:
            merged[key] = _checked(defaults[key], value, where, name)
    return merged


def _checked(default: Any, value: Any, where: str, name: str) -> Any:
    """A number or boolean setting, checked against its default's type (``${ENV}`` values
    arrive as text, so "4" or "true" are taken too). Errors name the key, never the value:
    an ``${ENV}`` reference may have put a secret there."""
    if isinstance(default, bool):
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise FleetsignalsError(f"{where}: {name!r} must be true or false")
        return value
    if not isinstance(default, int | float):
        return value
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
        raise FleetsignalsError(f"{where}: {name!r} must be a number >= 0")
    if isinstance(default, int):
        if not float(number).is_integer():
            raise FleetsignalsError(f"{where}: {name!r} must be a whole number")
        return int(number)
    return float(number)


def _dimension_keys(mapping: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(mapping, dict):
        raise FleetsignalsError(f"{where}: 'dimensions' must map a dimension to attribute keys")
    keys = {name: list(defaults) for name, defaults in DIMENSION_KEYS.items()}
    for name, extra in mapping.items():
        if name not in DIMENSION_KEYS:
            known = ", ".join(DIMENSION_KEYS)
            raise FleetsignalsError(f"{where}: unknown dimension {name!r} (known: {known})")
        extra = [extra] if isinstance(extra, str) else extra
        if not isinstance(extra, list) or not all(isinstance(k, str) for k in extra):
            raise FleetsignalsError(f"{where}: dimensions.{name} must be a list of attribute keys")
        keys[name] = [k for k in extra if k not in keys[name]] + keys[name]
    return keys


def _yaml_where(exc: yaml.YAMLError) -> str:
    """Where and what the YAML problem is, without PyYAML's quote of the offending line
    (which may hold a secret)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {problem}" if problem else where


def load_config(path: str | Path | None = None) -> Config:
    """Load the config file (``--config``, else ``$FLEETSIGNALS_CONFIG``, else ``./fleetsignals.yml``)."""
    chosen = path or os.environ.get("FLEETSIGNALS_CONFIG")
    if chosen is None and Path("fleetsignals.yml").is_file():
        chosen = "fleetsignals.yml"
    given: dict[str, Any] = {}
    where = "defaults"
    if chosen is not None:
        where = str(chosen)
        try:
            text = Path(chosen).read_text(encoding="utf-8")
        except OSError as exc:
            raise FleetsignalsError(f"cannot read config {chosen}: {exc.strerror}") from None
        try:
            given = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise FleetsignalsError(f"{chosen}: invalid YAML{_yaml_where(exc)}") from None
        if not isinstance(given, dict):
            raise FleetsignalsError(f"{chosen}: the config must be a mapping of keys to values")
    data = _merge(DEFAULTS, _expand_env(given, where), where)
    if "signal_dirs" not in given and not Path("signals").is_dir():
        data["signal_dirs"] = [str(SHIPPED_SIGNALS)]
    return Config(
        data=data,
        path=Path(chosen) if chosen else None,
        dimension_keys=_dimension_keys(data["dimensions"], where),
    )
