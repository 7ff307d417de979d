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
- Identity is the final label set (``alerts.identity``): query labels, the signal's
  labels, ``severity`` and ``alertname``; ``Instance.key`` is its fingerprint.
- Prometheus keeps ``for`` across a restart with ``RestoreForState`` and its
  ``for-grace-period``; here state persists, so a restart is a gap between two
  evaluations. A pending instance seen again after a gap longer than the cadence
  (``max(every, cycle)``) plus ``for_grace`` gets Prometheus' restored ``active_at``
  (``_restored_active_at``): it cannot fire at once after days of nobody looking.

Pure functions over plain data, so live evaluation and backtest share them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from fleetsignals.alerts.definitions import Signal
from fleetsignals.alerts.evaluation import Sample
from fleetsignals.alerts.identity import ALERTNAME, SEVERITY, final_labels, fingerprint
from fleetsignals.alerts.templates import TemplateError, render

PENDING, FIRING, RESOLVED = "pending", "firing", "resolved"
RESOLVED_RETENTION = timedelta(minutes=15)
# Prometheus' --rules.alert.for-grace-period: after an outage a pending instance waits at
# least this long (or its whole `for`, when that is shorter) before it may fire.
FOR_GRACE_PERIOD = timedelta(minutes=10)
# Alertmanager's rank of states when two stored instances turn out to be one alert.
_RANK = {FIRING: 0, PENDING: 1, RESOLVED: 2}

__all__ = ["fingerprint"]


def instance_key(signal: Signal, labels: dict[str, str]) -> str:
    """Identity of an instance: the fingerprint of its final label set (alerts.identity)."""
    return fingerprint(final_labels(signal, labels))


@dataclass
class Instance:
    """One alert instance's state; times are naive UTC."""

    signal: str
    # The query's labels (NULL and empty ones dropped), as the signal's row had them.
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
    # The final label set (alerts.identity.final_labels): the instance's identity. Empty
    # only in state written before identities were final label sets; `advance` fills it.
    identity: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The Alertmanager fingerprint of the instance's final label set."""
        return fingerprint(self.identity)


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
    cycle: timedelta = timedelta(0),
    for_grace: timedelta = FOR_GRACE_PERIOD,
) -> tuple[dict[str, Instance], list[Notice]]:
    """One evaluation: the signal's instances after ``samples`` at ``eval_at``, and notices.

    ``instances`` holds only this signal's instances (keys are not trusted: each is
    re-keyed by its identity); it is not modified. The result is keyed by ``Instance.key``.
    ``cycle`` is how often evaluations happen (``scheduler.build_every`` live, the step
    in a backtest); with the signal's ``every`` it sets the cadence that tells a late
    evaluation from an outage (see ``_restored_active_at``).
    """
    instances = _by_identity(signal, instances)
    cadence = max(signal.every, cycle)
    current: dict[str, Instance] = {}
    seen: set[str] = set()
    for sample in samples:
        identity = final_labels(signal, sample.labels)
        key = fingerprint(identity)
        seen.add(key)
        old = instances.get(key)
        if old is not None and old.state != RESOLVED:
            active_at = old.active_at
            if old.state == PENDING and eval_at - old.last_eval_at - cadence > for_grace:
                active_at = _restored_active_at(old, signal.for_, eval_at, for_grace)
            current[key] = replace(
                old,
                labels=sample.labels,  # the same alert; labels the signal overrides may vary
                active_at=active_at,
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
                identity=identity,
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


def _restored_active_at(
    old: Instance, hold: timedelta, eval_at: datetime, grace: timedelta
) -> datetime:
    """``active_at`` of a pending instance seen again after an outage (Prometheus'
    ``RestoreForState``): the time it was pending before the outage counts, the outage
    does not, and it fires no sooner than ``grace`` from now; a ``for`` shorter than the
    grace restarts from now instead.

    An outage is a gap between two evaluations longer than the cadence plus the grace:
    nobody looked in between, so "active continuously for `for`" cannot be claimed. A
    backtest at 1h steps has a 1h cadence, so a ``for: 10m`` signal still fires there.
    """
    if hold < grace:
        return eval_at
    spent = old.last_eval_at - old.active_at
    if hold - spent < grace:
        return eval_at + grace - hold
    return old.active_at + (eval_at - old.last_eval_at)


def _by_identity(signal: Signal, instances: dict[str, Instance]) -> dict[str, Instance]:
    """Instances keyed by the fingerprint of their final label set.

    State written by an older version keyed instances by their query labels and the
    signal name alone and stored no identity: those get the signal's current labels,
    severity and name. Two of them that are one alert now (they differed only in a label
    the signal overrides; Alertmanager already saw one alert) merge into the one that is
    furthest along (firing, then pending, then resolved; the earliest active first).
    """
    out: dict[str, Instance] = {}
    for instance in instances.values():
        if not instance.identity:
            instance = replace(instance, identity=final_labels(signal, instance.labels))
        key = instance.key
        other = out.get(key)
        if other is None or (_RANK[instance.state], instance.active_at) < (
            _RANK[other.state],
            other.active_at,
        ):
            out[key] = instance
    return out


def template_values(signal: Signal, instance: Instance) -> dict[str, object]:
    """What a template can refer to: labels, numeric columns, value and the signal name."""
    return {
        **signal.labels,
        **instance.labels,
        **instance.values,
        "value": instance.value,
        "signal": signal.name,
    }


def _rendered(signal: Signal, instance: Instance) -> dict[str, str | TemplateError]:
    values = template_values(signal, instance)
    notes: dict[str, str | TemplateError] = {}
    for name, template in (("summary", signal.summary), ("description", signal.description)):
        try:
            notes[name] = render(template, values)
        except TemplateError as exc:
            notes[name] = exc
    return notes


def annotations(signal: Signal, instance: Instance) -> dict[str, str]:
    """Prometheus-style annotations: summary, description, runbook (empty ones left out).

    A template that fails for this instance gives a text saying so (Prometheus writes
    ``<error expanding template: ...>``), so the alert still goes out;
    ``template_problem`` reports the signal.
    """
    notes: dict[str, str] = {}
    for name, text in _rendered(signal, instance).items():
        if isinstance(text, TemplateError):
            labels = ", ".join(f"{k}={v}" for k, v in sorted(record_labels(instance).items()))
            text = f"{signal.name} {{{labels}}}: the {name} template failed ({text})"
        notes[name] = text
    if signal.runbook:
        is_url = signal.runbook.strip().startswith(("http://", "https://"))
        notes["runbook_url" if is_url else "runbook"] = signal.runbook.strip()
    return {k: v for k, v in notes.items() if v}


def template_problem(signal: Signal, instances: Iterable[Instance]) -> str | None:
    """Why the signal's summary or description failed for one of ``instances``, or None."""
    for instance in instances:
        for name, text in _rendered(signal, instance).items():
            if isinstance(text, TemplateError):
                return (
                    f"the {name} template failed for {record_labels(instance)} ({text}): "
                    "fix the template; its notifications carry a fallback text meanwhile"
                )
    return None


def alert_labels(signal: Signal, instance: Instance) -> dict[str, str]:
    """The label set Alertmanager sees: the instance's identity."""
    return dict(instance.identity or final_labels(signal, instance.labels))


def record_labels(instance: Instance) -> dict[str, str]:
    """The labels outputs show beside ``signal`` and ``severity``: the identity without them."""
    return {k: v for k, v in instance.identity.items() if k not in (ALERTNAME, SEVERITY)}
