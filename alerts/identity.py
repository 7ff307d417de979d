"""An alert instance's identity: its final label set and that set's fingerprint, as Prometheus.

The final label set is built the way Prometheus' ``AlertingRule.Eval`` builds it:
the query's labels, then the signal's static ``labels`` (which override query
labels of the same name; an empty one removes the label), then ``severity``, then
``alertname`` = the signal's name. Two rows of one evaluation with the same final
label set are an error for that signal, as in Prometheus ("vector contains metrics
with the same labelset after applying alert labels").

The fingerprint is prometheus/common's ``model.LabelSet.Fingerprint()``, which
Alertmanager uses too: FNV-1a 64 over the label names in sorted order, each name
and value followed by a 0xff byte, printed as 16 hex digits. Every sink shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from fleetsignals.alerts.definitions import Signal

ALERTNAME, SEVERITY = "alertname", "severity"
_FNV_OFFSET, _FNV_PRIME, _MASK = 14695981039346656037, 1099511628211, (1 << 64) - 1


class _Labelled(Protocol):
    labels: dict[str, str]


def fingerprint(labels: dict[str, str]) -> str:
    """Prometheus' and Alertmanager's label-set fingerprint, as 16 hex digits."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                value = ((value ^ byte) * _FNV_PRIME) & _MASK
    return f"{value:016x}"


def final_labels(signal: Signal, labels: dict[str, str]) -> dict[str, str]:
    """The label set Alertmanager sees: query labels < static labels < severity < alertname."""
    merged = {**labels, **signal.labels, SEVERITY: signal.severity, ALERTNAME: signal.name}
    return {name: value for name, value in merged.items() if value != ""}


def check_identities(signal: Signal, samples: Iterable[_Labelled]) -> None:
    """Raise ValueError when two samples would be one alert once the signal's labels apply."""
    seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for sample in samples:
        key = tuple(sorted(final_labels(signal, sample.labels).items()))
        if key in seen:
            raise ValueError(
                f"rows {seen[key]} and {sample.labels} have the same labels after applying "
                "the signal's labels, severity and alertname: make them differ in a label "
                "the signal does not set"
            )
        seen[key] = sample.labels
