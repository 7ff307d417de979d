"""The alert state machine against Prometheus' rules for `for`, `keep_firing_for` and resolution."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from alerts.definitions import Signal
from alerts.evaluation import Sample
from alerts.lifecycle import FIRING, PENDING, RESOLVED, advance, fingerprint, instance_key

T = datetime(2026, 11, 20, 12, 0)
STEP = timedelta(minutes=5)
LABELS = {"tenant_id": "t2"}


def signal(**settings) -> Signal:
    return Signal(name="s", path=Path("s.sql"), sql="select 1 as value", **settings)


def replay(
    sig: Signal, active: list[bool], repeat=timedelta(hours=4)
) -> list[tuple[str | None, list[str]]]:
    """State of the one instance and the notices after each step (True = the row is returned)."""
    instances: dict = {}
    out = []
    for step, present in enumerate(active):
        samples = [Sample(LABELS, 3.0, {"value": 3.0})] if present else []
        instances, notices = advance(sig, instances, samples, T + step * STEP, repeat)
        instance = instances.get(instance_key(sig, LABELS))
        out.append((instance.state if instance else None, [n.kind for n in notices]))
    return out


def test_for_zero_fires_in_the_first_evaluation() -> None:
    assert replay(signal(), [True, True, False]) == [
        (FIRING, ["firing"]),
        (FIRING, []),
        (RESOLVED, ["resolved"]),
    ]


def test_for_holds_pending_until_active_that_long() -> None:
    steps = replay(signal(for_=timedelta(minutes=10)), [True, True, True, True])
    # active at 0, 5m, 10m: firing once eval_at - active_at >= for, i.e. at the third step.
    assert steps == [(PENDING, []), (PENDING, []), (FIRING, ["firing"]), (FIRING, [])]


def test_pending_that_clears_is_forgotten_silently() -> None:
    steps = replay(signal(for_=timedelta(minutes=10)), [True, True, False, True])
    assert steps == [(PENDING, []), (PENDING, []), (None, []), (PENDING, [])]


def test_keep_firing_for_holds_a_cleared_alert() -> None:
    sig = signal(keep_firing_for=timedelta(minutes=10))
    steps = replay(sig, [True, False, False, False, True])
    # Cleared at 5m: kept while eval_at - 5m < 10m (5m, 10m), resolved at 15m.
    assert steps == [
        (FIRING, ["firing"]),
        (FIRING, []),
        (FIRING, []),
        (RESOLVED, ["resolved"]),
        (FIRING, ["firing"]),  # for=0: a fresh instance fires at once
    ]


def test_keep_firing_clock_resets_when_the_condition_returns() -> None:
    sig = signal(keep_firing_for=timedelta(minutes=10))
    steps = replay(sig, [True, False, True, False, False, False])
    assert [s for s, _ in steps] == [FIRING, FIRING, FIRING, FIRING, FIRING, RESOLVED]


def test_resolved_is_reported_once_then_forgotten_after_retention() -> None:
    steps = replay(signal(), [True, False, False, False, False, False])
    assert steps[1] == (RESOLVED, ["resolved"])
    # kept for 15 minutes after resolving (5m..20m), gone at 25m
    assert [s for s, _ in steps[2:]] == [RESOLVED, RESOLVED, RESOLVED, None]
    assert all(kinds == [] for _, kinds in steps[2:])


def test_repeat_interval_renotifies_long_firing_alerts() -> None:
    steps = replay(signal(), [True] * 7, repeat=timedelta(minutes=15))
    assert [kinds for _, kinds in steps] == [["firing"], [], [], ["repeat"], [], [], ["repeat"]]


def test_value_and_identity() -> None:
    sig = signal()
    instances, _ = advance(sig, {}, [Sample({"a": "1"}, 1.0), Sample({"a": "2"}, 2.0)], T, STEP)
    instances, _ = advance(sig, instances, [Sample({"a": "1"}, 5.0)], T + STEP, STEP)
    by_labels = {tuple(i.labels.items()): i for i in instances.values()}
    assert by_labels[(("a", "1"),)].value == 5.0
    assert by_labels[(("a", "1"),)].active_at == T  # same identity: keeps its start
    assert by_labels[(("a", "2"),)].state == RESOLVED


def test_fingerprint_matches_prometheus() -> None:
    # Prometheus' model.LabelSet{}.Fingerprint() is FNV-1a 64 offset basis for no labels;
    # a real Alertmanager's fingerprint for a label set is checked in test_alertmanager.py.
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"a": "b"}) != fingerprint({"a": "c"})
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
