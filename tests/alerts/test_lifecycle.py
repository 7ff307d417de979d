"""The alert state machine against Prometheus' rules for `for`, `keep_firing_for` and resolution."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.definitions import Signal
from fleetsignals.alerts.evaluation import Sample
from fleetsignals.alerts.identity import check_identities
from fleetsignals.alerts.lifecycle import (
    FIRING,
    PENDING,
    RESOLVED,
    Instance,
    advance,
    fingerprint,
    instance_key,
)

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


def states_at(
    sig: Signal, times: list[timedelta], cycle: timedelta = STEP, grace=timedelta(minutes=10)
) -> list[str]:
    """The one instance's state after an evaluation at each of ``T + times`` (always present)."""
    instances: dict = {}
    out = []
    for offset in times:
        samples = [Sample(LABELS, 3.0, {"value": 3.0})]
        instances, _ = advance(
            sig, instances, samples, T + offset, timedelta(hours=4), cycle=cycle, for_grace=grace
        )
        (instance,) = instances.values()
        out.append(instance.state)
    return out


def minutes(*values: float) -> list[timedelta]:
    return [timedelta(minutes=v) for v in values]


DAYS = 3 * 24 * 60


def test_a_pending_alert_does_not_fire_at_once_after_an_outage() -> None:
    """Before: pending at 0 and 5m, seen again 3 days later, it fired at once."""
    sig = signal(for_=timedelta(minutes=10))
    # 5m of the 10m were spent before the outage: less than the grace (10m) remains, so it
    # fires a grace period after it is seen again (Prometheus' RestoreForState).
    steps = states_at(sig, minutes(0, 5, DAYS, DAYS + 5, DAYS + 10))
    assert steps == [PENDING, PENDING, PENDING, PENDING, FIRING]


def test_after_an_outage_the_time_pending_before_it_still_counts() -> None:
    sig = signal(for_=timedelta(hours=1))
    # 30m pending, then a 2-day outage: 30m remain (more than the grace), so the time
    # before the outage counts and the outage does not: it fires 30m after coming back.
    before = minutes(0, 5, 10, 15, 20, 25, 30)
    after = minutes(*(2 * 24 * 60 + m for m in range(0, 35, 5)))
    assert states_at(sig, before + after)[-2:] == [PENDING, FIRING]


def test_a_for_shorter_than_the_grace_restarts_after_an_outage() -> None:
    sig = signal(for_=timedelta(minutes=5))
    assert states_at(sig, minutes(0, DAYS, DAYS + 5)) == [PENDING, PENDING, FIRING]


def test_normal_cadence_and_late_evaluations_keep_the_for_clock() -> None:
    sig = signal(for_=timedelta(minutes=10))
    assert states_at(sig, minutes(0, 5, 10)) == [PENDING, PENDING, FIRING]
    # A slow cycle 12m after the last (7m late, within the 10m grace) is not an outage.
    assert states_at(sig, minutes(0, 12)) == [PENDING, FIRING]
    # 16m late is: the for clock is re-armed.
    assert states_at(sig, minutes(0, 21, 26, 31)) == [PENDING, PENDING, PENDING, FIRING]


def test_backtest_steps_longer_than_for_still_fire() -> None:
    """A backtest at 1h steps evaluates on a 1h cadence: its gaps are no outage."""
    sig = signal(for_=timedelta(minutes=10))
    hourly = minutes(0, 60, 120)
    assert states_at(sig, hourly, cycle=timedelta(hours=1)) == [PENDING, FIRING, FIRING]
    # The same gaps on a 5m cadence are outages: it would never fire.
    assert states_at(sig, hourly, cycle=STEP) == [PENDING, PENDING, PENDING]


def test_identity_is_the_final_label_set() -> None:
    sig = signal(severity="critical", labels={"team": "billing"})
    sample = Sample({"tenant_id": "t2", "team": "search", "severity": "info"}, 1.0)
    instances, _ = advance(sig, {}, [sample], T, STEP)
    ((key, instance),) = instances.items()
    # Static labels override query labels, then severity and alertname (Prometheus' order).
    final = {"tenant_id": "t2", "team": "billing", "severity": "critical", "alertname": "s"}
    assert instance.identity == final
    assert key == instance.key == fingerprint(final)
    assert instance.labels == sample.labels


def test_a_changed_severity_is_a_new_alert() -> None:
    """As in Prometheus: another label set is another alert (the old one resolves)."""
    instances, _ = advance(signal(), {}, [Sample(LABELS, 1.0)], T, STEP)
    instances, notices = advance(
        signal(severity="critical"), instances, [Sample(LABELS, 1.0)], T + STEP, STEP
    )
    assert sorted((n.kind, n.instance.identity["severity"]) for n in notices) == [
        ("firing", "critical"),
        ("resolved", "warning"),
    ]


def test_rows_that_are_one_alert_after_the_signal_labels_fail_the_signal() -> None:
    sig = signal(labels={"team": "billing"})
    rows = [Sample({"tenant_id": "t2", "team": t}, 1.0) for t in ("a", "b")]
    with pytest.raises(ValueError, match="same labels after applying the signal's labels"):
        check_identities(sig, rows)
    other = [Sample({"tenant_id": "t2", "alertname": n}, 1.0) for n in ("a", "b")]
    with pytest.raises(ValueError, match="same labels after applying"):
        check_identities(signal(), other)
    check_identities(sig, [Sample({"tenant_id": t}, 1.0) for t in ("t1", "t2")])


def test_old_state_is_rekeyed_and_merged_by_final_labels() -> None:
    """Rows stored by the older version (no identity) that are one alert under the signal's
    static label merge into the one furthest along; nothing is resolved or re-fired."""
    sig = signal(labels={"team": "billing"})
    old = {
        f"old-{team}": Instance(
            signal="s",
            labels={"tenant_id": "t2", "team": team},
            state=state,
            active_at=T - STEP * n,
            last_eval_at=T,
            fired_at=T if state == FIRING else None,
            last_sent_at=T if state == FIRING else None,
        )
        for n, (team, state) in enumerate((("a", PENDING), ("b", FIRING)))
    }
    samples = [Sample({"tenant_id": "t2", "team": "c"}, 1.0)]
    instances, notices = advance(sig, old, samples, T + STEP, timedelta(hours=4))
    ((key, instance),) = instances.items()
    assert notices == []
    assert (instance.state, instance.fired_at) == (FIRING, T)  # the firing one, "b"
    assert instance.labels == samples[0].labels
    assert key == fingerprint({"tenant_id": "t2", "team": "billing", "severity": "warning",
                               "alertname": "s"})  # fmt: skip
