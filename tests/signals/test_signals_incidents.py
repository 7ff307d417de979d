"""Each shipped signal fires on its own generated incident, with the incident's labels,
within a bounded delay, and on nothing else: not on the other incidents, not on the
traffic surge, not on a healthy fleet of another seed and traffic level."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.signalfleets import SHIPPED, BuiltFleet, explained, matches

# Incident -> its signal, and the longest acceptable delay from the incident's start to a
# firing alert (detection needs evidence, then `for` adds its pending period). A trailing-
# hour P95 needs most of its hour: window (60 min) + one step (5 min); p95_cost_jump has no
# `for` (its overlapping windows already make rows persist).
OWN = {
    "tool_failure": ("correlated_failure", timedelta(minutes=30)),
    "cost_inflation": ("p95_cost_jump", timedelta(minutes=65)),
    "silent_loops": ("depth_tail", timedelta(minutes=50)),
    "stuck_runs": ("stuck_agent", timedelta(minutes=20)),
}


@pytest.mark.slow
@pytest.mark.parametrize("incident_name", sorted(OWN))
def test_fires_on_its_incident_with_its_labels(
    incident_fleet: BuiltFleet, incident_name: str
) -> None:
    signal, bound = OWN[incident_name]
    incident = incident_fleet.incident(incident_name)
    hits = [
        f
        for f in incident_fleet.firing
        if f.signal == signal and f.first_at >= incident.start and matches(incident, f)
    ]
    assert hits, f"{signal} never fired on {incident_name} {incident.labels}"
    delay = min(f.first_at for f in hits) - incident.start
    assert delay <= bound, f"{signal} fired {delay} after {incident_name} started"


@pytest.mark.slow
def test_stuck_agent_names_the_stuck_runs(incident_fleet: BuiltFleet) -> None:
    incident = incident_fleet.incident("stuck_runs")
    named = {f.labels["run_id"] for f in incident_fleet.firing if f.signal == "stuck_agent"}
    # Every stuck run that loops long enough to be judged is named, and nothing else.
    assert named <= set(incident.run_ids)
    assert len(named) >= len(incident.run_ids) // 2


@pytest.mark.slow
@pytest.mark.parametrize("signal", SHIPPED)
def test_silent_on_other_incidents_and_the_surge(incident_fleet: BuiltFleet, signal: str) -> None:
    stray = [
        (f.first_at, f.labels)
        for f in incident_fleet.firing
        if f.signal == signal and not explained(incident_fleet, f)
    ]
    assert stray == []


@pytest.mark.slow
@pytest.mark.parametrize("signal", SHIPPED)
def test_silent_on_a_healthy_fleet(healthy_fleet: BuiltFleet, signal: str) -> None:
    assert [(f.first_at, f.labels) for f in healthy_fleet.firing if f.signal == signal] == []
