"""Retention policies: configuration in the Collector tail sampler's vocabulary, and decisions.

A policy is ``{name, type, <type>: {...settings}, reason}`` as in the
OpenTelemetry Collector's ``tail_sampling`` processor, but it judges a whole
run from its facts in ``fct_runs`` (after the run ended), not spans in a
30-second buffer. So it can do what the Collector cannot: rank a run against
its population (``percentile``) and ask whether a signal flagged it.

Every policy compiles to a SQL boolean over the ``runs`` relation (one row per
run with the columns of ``fct_runs``, plus ``end_for_retention``); the
decision rule is in ``decide_sql`` and docs/retention.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fleetsignals.errors import FleetsignalsError
from fleetsignals.sqltext import quote_identifier
from fleetsignals.timeutil import parse_duration

KEEP_REASONS = ("error", "bad_label", "cost_tail", "anomaly", "sampled")
REASONS = (*KEEP_REASONS, "pruned")
RUN_STATUSES = ("ok", "error", "timeout")

# Reason given by a policy type when the config names none.
DEFAULT_REASON = {
    "status_code": "error",
    "percentile": "cost_tail",
    "signal_flagged": "anomaly",
    "probabilistic": "sampled",
}
# Type -> settings it accepts (the block under the type's own key).
SETTINGS: dict[str, set[str]] = {
    "always_sample": set(),
    "status_code": {"status_codes"},
    "numeric_attribute": {"key", "min_value", "max_value"},
    "string_attribute": {"key", "values", "enabled_regex_matching"},
    "latency": {"threshold_ms", "upper_threshold_ms"},
    "percentile": {"key", "quantile", "group_by", "window"},
    "signal_flagged": {"signals"},
    "probabilistic": {"sampling_percentage", "hash_salt"},
    "and": {"and_sub_policy"},
    "drop": {"drop_sub_policy"},
}
# What a sample gives equal chances: runs (the contract's default) or spans (docs/retention.md).
SAMPLE_BY = ("runs", "spans")
# 2**60: the sampling hash is the first 15 hex digits (60 bits) of md5(salt || run_id).
HASH_SPACE = float(1 << 60)


@dataclass(frozen=True)
class Policy:
    """One configured policy, validated."""

    name: str
    type: str
    settings: dict[str, Any]
    reason: str | None = None  # None for drop
    subs: tuple[Policy, ...] = ()

    @property
    def window(self) -> timedelta | None:
        if self.type == "percentile":
            return self.settings["window"]
        return max((s.window for s in self.subs if s.window), default=None)


@dataclass(frozen=True)
class Policies:
    """The keep policies in order, the drop policies, and the decision window."""

    keep: tuple[Policy, ...]
    drop: tuple[Policy, ...] = ()
    window: timedelta = timedelta(hours=1)
    columns_used: frozenset[str] = field(default_factory=frozenset)
    # The other runs of a group an alert named are sampled at
    # min(1, max(group_rate, group_min_runs / their number)) (docs/retention.md).
    group_rate: float = 0.10
    group_min_runs: int = 20
    # "runs": every run the same chance; "spans": a chance inversely proportional to its
    # spans, the mean chance per run unchanged (see _size_factor_sql, docs/retention.md).
    sample_by: str = "runs"


def default_policies(sample_rate: float, cost_tail_quantile: float) -> list[dict[str, Any]]:
    """The built-in policies, as config would spell them (docs/retention.md, "Policies")."""
    return [
        {
            "name": "failed-or-timed-out",
            "type": "status_code",
            "status_code": {"status_codes": ["error", "timeout"]},
        },
        {
            # A run a human or a judge labelled bad is evidence: kept whole when its label
            # lands before the decision (retention.label_wait; docs/retention.md).
            "name": "bad-label",
            "type": "numeric_attribute",
            "numeric_attribute": {"key": "bad_label_count", "min_value": 1},
            "reason": "bad_label",
        },
        {
            "name": "cost-tail",
            "type": "percentile",
            "percentile": {
                "key": "cost_usd",
                "quantile": cost_tail_quantile,
                "group_by": ["agent_name"],
                "window": "1h",
            },
        },
        {"name": "flagged-by-a-signal", "type": "signal_flagged"},
        {
            "name": "uniform-sample",
            "type": "probabilistic",
            "probabilistic": {"sampling_percentage": sample_rate * 100},
        },
    ]


def _fail(where: str, message: str) -> FleetsignalsError:
    return FleetsignalsError(f"retention.policies: {where}: {message}")


def _number(where: str, value: Any, low: float, high: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _fail(where, f"{what} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _names(where: str, value: Any, what: str) -> list[str]:
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _fail(where, f"{what} must be a non-empty list of strings")
    return value


def _settings(where: str, kind: str, given: Any) -> dict[str, Any]:
    given = given or {}
    if not isinstance(given, dict):
        raise _fail(where, f"'{kind}' must be a mapping of settings")
    unknown = set(given) - SETTINGS[kind]
    if unknown:
        known = ", ".join(sorted(SETTINGS[kind])) or "none"
        raise _fail(where, f"unknown setting {sorted(unknown)[0]!r} (known: {known})")
    s = dict(given)
    if kind == "status_code":
        codes = [c.lower() for c in _names(where, s.get("status_codes"), "status_codes")]
        bad = [c for c in codes if c not in RUN_STATUSES]
        if bad:
            raise _fail(
                where, f"status code {bad[0]!r} is not a run status (use ok, error, timeout)"
            )
        s["status_codes"] = codes
    elif kind in ("numeric_attribute", "string_attribute", "percentile"):
        default_key = "cost_usd" if kind == "percentile" else None
        s["key"] = s.get("key", default_key)
        if not isinstance(s["key"], str):
            raise _fail(where, "'key' must name a column of fct_runs, e.g. cost_usd")
    if kind == "numeric_attribute":
        if s.get("min_value") is None and s.get("max_value") is None:
            raise _fail(where, "give min_value, max_value or both")
        for bound in ("min_value", "max_value"):
            if s.get(bound) is not None:
                s[bound] = _number(where, s[bound], -1e300, 1e300, bound)
    elif kind == "string_attribute":
        s["values"] = _names(where, s.get("values"), "values")
        s["enabled_regex_matching"] = bool(s.get("enabled_regex_matching", False))
    elif kind == "latency":
        s["threshold_ms"] = _number(where, s.get("threshold_ms"), 0, 1e15, "threshold_ms")
        if s.get("upper_threshold_ms") is not None:
            s["upper_threshold_ms"] = _number(
                where, s["upper_threshold_ms"], 0, 1e15, "upper_threshold_ms"
            )
    elif kind == "percentile":
        s["quantile"] = _number(where, s.get("quantile", 0.99), 0, 1, "quantile")
        s["group_by"] = _names(where, s.get("group_by", ["agent_name"]), "group_by")
        s["window"] = parse_duration(s.get("window", "1h"))
        seconds = s["window"].total_seconds()
        if seconds <= 0 or seconds > 86400 or 86400 % seconds:
            raise _fail(where, "window must divide a day (e.g. 15m, 1h, 6h, 1d)")
    elif kind == "signal_flagged":
        s["signals"] = _names(where, s["signals"], "signals") if "signals" in s else None
    elif kind == "probabilistic":
        pct = _number(where, s.get("sampling_percentage"), 0, 100, "sampling_percentage")
        s["rate"] = pct / 100
        s["hash_salt"] = str(s.get("hash_salt", ""))
    return s


def parse_policy(raw: Any, where: str, inside: str | None = None) -> Policy:
    """Validate one policy mapping (recursively for and/drop)."""
    if not isinstance(raw, dict):
        raise _fail(where, "a policy must be a mapping with name and type")
    kind = raw.get("type")
    if kind not in SETTINGS:
        raise _fail(where, f"type must be one of {', '.join(SETTINGS)}, got {kind!r}")
    name = str(raw.get("name", kind))
    where = f"{where} ({name})"
    unknown = set(raw) - {"name", "type", "reason", kind}
    if unknown:
        raise _fail(
            where,
            f"unknown key {sorted(unknown)[0]!r} (a policy has name, type, reason "
            f"and a '{kind}' block of settings)",
        )
    settings = _settings(where, kind, raw.get(kind))
    subs: tuple[Policy, ...] = ()
    if kind in ("and", "drop"):
        key = f"{kind}_sub_policy"
        given = settings.get(key)
        if not isinstance(given, list) or not given:
            raise _fail(where, f"{key} must be a non-empty list of policies")
        subs = tuple(parse_policy(p, f"{where}.{key}[{i}]", kind) for i, p in enumerate(given))
        if kind == "drop" and any(s.type == "drop" or _rate(s) is not None for s in subs):
            # A random drop would leave kept runs without a known inclusion probability.
            raise _fail(where, "a drop policy cannot contain probabilistic or drop policies")
    if inside is not None and kind == "drop":
        raise _fail(where, "drop policies belong at the top level")
    reason = raw.get("reason")
    if kind == "drop":
        if reason is not None:
            raise _fail(where, "a drop policy has no reason: its runs are pruned")
        return Policy(name, kind, settings, None, subs)
    probabilistic = _rate(Policy(name, kind, settings, None, subs)) is not None
    if probabilistic:
        if reason not in (None, "sampled"):
            raise _fail(where, "a policy that samples at random has reason 'sampled'")
        reason = "sampled"
    elif reason is None:
        reason = DEFAULT_REASON.get(kind) or next(
            (s.reason for s in subs if s.reason and s.reason != "sampled"), None
        )
        if reason is None and inside is None:
            raise _fail(where, "give a reason: one of error, bad_label, cost_tail, anomaly")
    elif reason not in KEEP_REASONS or reason == "sampled":
        raise _fail(
            where, f"reason must be one of error, bad_label, cost_tail, anomaly, got {reason!r}"
        )
    return Policy(name, kind, settings, reason, subs)


def _rate(policy: Policy) -> float | None:
    """The sampling rate a policy applies (min over an and's probabilistic parts), else None."""
    if policy.type == "probabilistic":
        return policy.settings["rate"]
    rates = [r for r in (_rate(s) for s in policy.subs) if r is not None]
    return min(rates) if rates else None


def _columns(policy: Policy) -> set[str]:
    used = {policy.settings["key"]} if "key" in policy.settings else set()
    used |= set(policy.settings.get("group_by") or ())
    for sub in policy.subs:
        used |= _columns(sub)
    return used


def parse_policies(retention: dict[str, Any]) -> Policies:
    """The ``retention`` config section -> validated policies (built-in ones when not given)."""
    raw = retention.get("policies")
    if raw is None:
        rate = _number("sample_rate", retention.get("sample_rate"), 0, 1, "sample_rate")
        quantile = _number(
            "cost_tail_quantile", retention.get("cost_tail_quantile"), 0, 1, "cost_tail_quantile"
        )
        raw = default_policies(rate, quantile)
    if not isinstance(raw, list):
        raise FleetsignalsError("retention.policies must be a list of policies (or null)")
    parsed = [parse_policy(p, f"[{i}]") for i, p in enumerate(raw)]
    salts = {p.settings["hash_salt"] for p in _walk(parsed) if p.type == "probabilistic"}
    if len(salts) > 1:
        # One hash per run makes overlapping samples nest, so weights stay 1 / max rate.
        raise FleetsignalsError(
            "retention.policies: every probabilistic policy needs the same hash_salt"
        )
    windows = [p.window for p in parsed if p.window]
    group_rate = retention.get("group_sample_rate")
    if group_rate is None:
        group_rate = retention.get("sample_rate", 0.10)
    group_rate = _number("group_sample_rate", group_rate, 0, 1, "group_sample_rate")
    sample_by = retention.get("sample_by", "runs")
    if sample_by not in SAMPLE_BY:
        raise FleetsignalsError(
            f"retention.sample_by must be one of {', '.join(SAMPLE_BY)}, got {sample_by!r}"
        )
    used = set().union(*(_columns(p) for p in parsed))
    if sample_by == "spans":
        used.add("span_count")
    return Policies(
        keep=tuple(p for p in parsed if p.type != "drop"),
        drop=tuple(p for p in parsed if p.type == "drop"),
        window=max([timedelta(hours=1), *windows]),
        columns_used=frozenset(used),
        group_rate=group_rate,
        group_min_runs=int(retention.get("group_min_runs", 20)),
        sample_by=sample_by,
    )


def _walk(policies: list[Policy] | tuple[Policy, ...]) -> list[Policy]:
    out: list[Policy] = []
    for p in policies:
        out += [p, *_walk(p.subs)]
    return out


class _Compiler:
    """Turns policies into SQL over ``runs``; values travel as named parameters."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def condition(self, p: Policy) -> str:
        """The deterministic part of a policy (probabilistic parts are true here)."""
        s = p.settings
        if p.type in ("always_sample", "probabilistic"):
            return "true"
        if p.type == "status_code":
            return f"list_contains({self.bind(s['status_codes'])}, status)"
        if p.type == "numeric_attribute":
            parts = [f"{quote_identifier(s['key'])} is not null"]
            if s.get("min_value") is not None:
                parts.append(f"{quote_identifier(s['key'])} >= {self.bind(s['min_value'])}")
            if s.get("max_value") is not None:
                parts.append(f"{quote_identifier(s['key'])} <= {self.bind(s['max_value'])}")
            return "(" + " and ".join(parts) + ")"
        if p.type == "string_attribute":
            column = f"cast({quote_identifier(s['key'])} as varchar)"
            if not s["enabled_regex_matching"]:
                return f"coalesce(list_contains({self.bind(s['values'])}, {column}), false)"
            # Go's regexp.MatchString, which the Collector uses, matches anywhere in the value.
            tests = [f"regexp_matches({column}, {self.bind(v)})" for v in s["values"]]
            return "coalesce(" + " or ".join(tests) + ", false)"
        if p.type == "latency":
            duration = "date_diff('millisecond', started_at, end_for_retention)"
            sql = f"coalesce({duration} >= {self.bind(s['threshold_ms'])}"
            if s.get("upper_threshold_ms") is not None:
                sql += f" and {duration} <= {self.bind(s['upper_threshold_ms'])}"
            return sql + ", false)"
        if p.type == "percentile":
            return self._percentile(s)
        if p.type == "signal_flagged":
            if s["signals"] is None:
                return "run_id in (select run_id from flags)"
            signals = self.bind(s["signals"])
            return f"run_id in (select run_id from flags where list_contains({signals}, signal))"
        # and / drop: every sub-policy must match (the Collector's and_sub_policy semantics).
        return "(" + " and ".join(self.condition(sub) for sub in p.subs) + ")"

    def _percentile(self, s: dict[str, Any]) -> str:
        # Rank-based, so ties and all-equal groups cannot blow the budget: keep the k most
        # costly runs of each group and window, k = ceil(n * (1 - quantile)), n = runs with a
        # value. So every group-window with a value keeps at least its top run.
        key = quote_identifier(s["key"])
        bucket = f"time_bucket({self.bind(s['window'])}, end_for_retention)"
        partition = ", ".join([*(quote_identifier(g) for g in s["group_by"]), bucket])
        window = f"over (partition by {partition} order by {key} desc nulls last, run_id)"
        count = f"count({key}) over (partition by {partition})"
        share = self.bind(1 - s["quantile"])
        return f"({key} is not null and row_number() {window} <= ceil({count} * {share} - 1e-9))"


def _size_factor_sql(c: _Compiler, policies: Policies) -> str:
    """``sample_by: spans``: the harmonic mean of spans per run in the run's decision
    window over its own spans.

    A rate r becomes min(1, r x factor): a run's chance falls as its spans (and so its
    bytes) grow, every sampled run carries about the same expected spans, and the mean
    chance over the window's runs stays r (before the cap at 1), since the mean of
    H / s over the runs is 1. The factor depends on facts only (never on the hash), and a
    window is always decided whole (job._decide), so it is the same on every retain and
    ``1 / rate`` stays the run's inclusion probability.
    """
    size = "greatest(coalesce(span_count, 0), 1)"
    window = f"over (partition by time_bucket({c.bind(policies.window)}, end_for_retention))"
    # Summed as decimals: exact, so the result is the same bits whatever order the threads
    # add in (a double sum is not, and a weight would differ between two retains).
    inverse = f"sum(cast(1.0 / {size} as decimal(38, 18))) {window}"
    return f"(count(*) {window} / cast({inverse} as double)) / {size} as size_factor"


def decide_sql(policies: Policies) -> tuple[str, dict[str, Any]]:
    """SQL over ``runs`` (and ``flags``) giving run_id, retention_reason, sample_weight.

    The rule: a run any drop policy matches is pruned; else the first deterministic
    keep policy that matches gives the reason (weight 1); else it is sampled when its
    hash falls under the highest rate of the probabilistic policies whose other
    conditions it meets (weight 1 / that rate, its inclusion probability); else pruned
    (weight 0: its spans are gone, its facts stay).
    """
    c = _Compiler()
    columns = ["run_id"]
    drops = [f"({c.condition(p)}) as drop_{i}" for i, p in enumerate(policies.drop)]
    keeps: list[tuple[str, str]] = []
    rates: list[tuple[str, str]] = []
    for i, p in enumerate(policies.keep):
        rate = _rate(p)
        if rate is None:
            keeps.append((f"({c.condition(p)}) as keep_{i}", p.reason or "anomaly"))
        else:
            rates.append(
                (
                    f"({c.condition(p)}) as sample_{i}",
                    f"case when sample_{i} then {c.bind(rate)} else 0.0 end",
                )
            )
        if p.type == "signal_flagged":
            # The other runs of a group its signals named: a sample at the group's rate
            # (the same hash, so the inclusion probability is the largest rate).
            only = (
                f" and list_contains({c.bind(p.settings['signals'])}, g.signal)"
                if p.settings["signals"] is not None
                else ""
            )
            rates.append(
                (
                    "coalesce((select max(g.rate) from group_rates as g "
                    f"where g.run_id = runs.run_id{only}), 0.0) as group_rate_{i}",
                    f"group_rate_{i}",
                )
            )
    salt = next(
        (p.settings["hash_salt"] for p in _walk(policies.keep) if p.type == "probabilistic"), ""
    )
    hashed = (
        f"cast(('0x' || substr(md5({c.bind(salt)} || run_id), 1, 15)) as ubigint) / {HASH_SPACE!r}"
    )
    sizes = [_size_factor_sql(c, policies)] if policies.sample_by == "spans" else []
    flags_sql = ",\n        ".join(
        [
            *columns,
            *drops,
            *(k for k, _ in keeps),
            *(r for r, _ in rates),
            *sizes,
            f"{hashed} as hash_u",
        ]
    )
    dropped = " or ".join(f"drop_{i}" for i in range(len(policies.drop))) or "false"
    whens = [f"when {dropped} then 'pruned'"]
    for sql, reason in keeps:
        alias = sql.rsplit(" as ", 1)[1]
        whens.append(f"when {alias} then {c.bind(reason)}")
    rate_terms = [term for _, term in rates]
    best_rate = f"greatest({', '.join(rate_terms)}, 0.0)" if rate_terms else "0.0"
    if sizes:
        # A rate of 1 (a small flagged group kept whole) stays 1.
        best_rate = (
            f"case when {best_rate} >= 1.0 then 1.0 else least(1.0, {best_rate} * size_factor) end"
        )
    sql = f"""
    with matched as (
        select
        {flags_sql}
        from runs
    ),
    rated as (
        select *, {best_rate} as best_rate from matched
    )
    select
        run_id,
        case {" ".join(whens)}
            when hash_u < best_rate then 'sampled'
            else 'pruned'
        end as retention_reason,
        case when {dropped} then 0.0
            {" ".join(w.rsplit(" then ", 1)[0] + " then 1.0" for w in whens[1:])}
            when hash_u < best_rate then 1.0 / best_rate
            else 0.0
        end as sample_weight
    from rated
    """
    return sql, c.params
