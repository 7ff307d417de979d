"""The alert state machine, with Prometheus' meaning of ``for`` and ``keep_firing_for``.

Follows Prometheus' ``AlertingRule.Eval`` (rules/alerting.go) step by step:

- A sample with new labels starts an instance ``pending`` with ``active_at`` =
  the evaluation time. Once it has been active continuously for ``for``
  (``eval_at - active_at >= for``) it becomes ``firing``; with ``for: 0`` that
  happens in the same evaluation.
- A pending instance whose sample disappears is forgotten (it never fired, so
  nobody hears of it).
- A firing instance whose sample disappears turns ``resolved`` (Prometheus'
  "inactive"), unless ``keep_firing_for`` holds it: it stays firing until the
  condition has been absent for ``keep_firing_for``; a sample that comes back
  meanwhile resets that clock.
- A resolved instance is kept for ``resolved_retention`` (Prometheus: 15m) so
  the resolution can be re-sent, then forgotten. A sample with its labels
  starts a fresh pending instance.
- A failing evaluation changes nothing (the caller does not call ``advance``).

Pure functions over plain data, so live evaluation and backtest share them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from alerts.definitions import Signal
from alerts.evaluation import Sample
from alerts.templates import render

PENDING, FIRING, RESOLVED = "pending", "firing", "resolved"
RESOLVED_RETENTION = timedelta(minutes=15)

_FNV_OFFSET, _FNV_PRIME, _MASK = 14695981039346656037, 1099511628211, (1 << 64) - 1


def fingerprint(labels: dict[str, str]) -> str:
    """Prometheus' label-set fingerprint (FNV-1a 64 over sorted names and values), as hex.

    Alertmanager shows the same value for the same label set, so alerts can be
    matched across fleetsignals, webhook consumers and Alertmanager.
    """
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                value = ((value ^ byte) * _FNV_PRIME) & _MASK
    return f"{value:016x}"


def instance_key(signal: str, labels: dict[str, str]) -> str:
    """Identity of an instance: signal + labels."""
    return fingerprint({**labels, "alertname": signal})


@dataclass
class Instance:
    """One alert instance's state; times are naive UTC."""

    signal: str
    labels: dict[str, str]
    state: str
    active_at: datetime
    last_eval_at: datetime
    value: float | None = None
    values: dict[str, float | None] = field(default_factory=dict)
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    keep_firing_since: datetime | None = None
    # Last time a human-facing notification (firing or repeat) went out.
    last_sent_at: datetime | None = None

    @property
    def key(self) -> str:
        return instance_key(self.signal, self.labels)


@dataclass(frozen=True)
class Notice:
    """A notification an evaluation produced: ``firing`` (new), ``repeat`` or ``resolved``."""

    kind: str
    instance: Instance


def advance(
    signal: Signal,
    instances: dict[str, Instance],
    samples: list[Sample],
    eval_at: datetime,
    repeat_interval: timedelta,
    resolved_retention: timedelta = RESOLVED_RETENTION,
) -> tuple[dict[str, Instance], list[Notice]]:
    """One evaluation: the signal's instances after ``samples`` at ``eval_at``, and notices.

    ``instances`` holds only this signal's instances, keyed by ``instance_key``;
    it is not modified.
    """
    current: dict[str, Instance] = {}
    seen: set[str] = set()
    for sample in samples:
        key = instance_key(signal.name, sample.labels)
        seen.add(key)
        old = instances.get(key)
        if old is not None and old.state != RESOLVED:
            current[key] = replace(
                old,
                value=sample.value,
                values=sample.values,
                last_eval_at=eval_at,
                keep_firing_since=None,  # the condition holds again
            )
        else:
            current[key] = Instance(
                signal=signal.name,
                labels=sample.labels,
                state=PENDING,
                active_at=eval_at,
                last_eval_at=eval_at,
                value=sample.value,
                values=sample.values,
            )
    notices: list[Notice] = []
    for key, old in instances.items():
        if key in seen:
            continue
        if old.state == PENDING:
            continue  # never fired: forget quietly
        if old.state == RESOLVED:
            if eval_at - old.resolved_at <= resolved_retention:
                current[key] = replace(old, last_eval_at=eval_at)
            continue
        since = old.keep_firing_since or eval_at
        if signal.keep_firing_for > timedelta(0) and eval_at - since < signal.keep_firing_for:
            current[key] = replace(old, keep_firing_since=since, last_eval_at=eval_at)
            continue
        resolved = replace(old, state=RESOLVED, resolved_at=eval_at, last_eval_at=eval_at)
        current[key] = resolved
        notices.append(Notice("resolved", resolved))
    for key, instance in current.items():
        if instance.state == PENDING and eval_at - instance.active_at >= signal.for_:
            instance.state, instance.fired_at, instance.last_sent_at = FIRING, eval_at, eval_at
            notices.append(Notice("firing", instance))
        elif (
            instance.state == FIRING
            and key in instances
            and instance.last_sent_at is not None
            and eval_at - instance.last_sent_at >= repeat_interval
        ):
            instance.last_sent_at = eval_at
            notices.append(Notice("repeat", instance))
    return current, notices


def template_values(signal: Signal, instance: Instance) -> dict[str, object]:
    """What a template can refer to: labels, numeric columns, value and the signal name."""
    return {
        **signal.labels,
        **instance.labels,
        **instance.values,
        "value": instance.value,
        "signal": signal.name,
    }


def annotations(signal: Signal, instance: Instance) -> dict[str, str]:
    """Prometheus-style annotations: summary, description, runbook (empty ones left out)."""
    values = template_values(signal, instance)
    notes = {
        "summary": render(signal.summary, values),
        "description": render(signal.description, values),
    }
    if signal.runbook:
        is_url = signal.runbook.strip().startswith(("http://", "https://"))
        notes["runbook_url" if is_url else "runbook"] = signal.runbook.strip()
    return {k: v for k, v in notes.items() if v}


def alert_labels(signal: Signal, instance: Instance) -> dict[str, str]:
    """The label set Alertmanager sees: alertname, severity, static labels, instance labels."""
    return {
        **instance.labels,
        **signal.labels,
        "alertname": signal.name,
        "severity": signal.severity,
    }
