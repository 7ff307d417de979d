"""Long-tailed tenants on generated fleets: a one-tenant cost jump is named on the tenant
(not also on its cohort or agent), and a healthy fleet of hundreds of tenants is silent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.signalfleets import SHIPPED, BuiltFleet, explained, matches


@pytest.mark.slow
def test_a_tenant_cost_jump_fires_on_the_tenant_only(tenant_fleet: BuiltFleet) -> None:
    incident = tenant_fleet.incident("tenant_cost_jump")
    cost = [f for f in tenant_fleet.firing if f.signal == "p95_cost_jump"]
    hits = [f for f in cost if f.first_at >= incident.start and matches(incident, f)]
    assert hits, f"p95_cost_jump never fired on {incident.labels}"
    # The window (60 min) bounds it (no `for`); a x2 jump shows well before.
    assert min(f.first_at for f in hits) - incident.start <= timedelta(minutes=60)
    # Nothing else of the agent fires meanwhile: not the tenant's cohort, not the agent.
    assert [f.labels for f in cost if not matches(incident, f)] == []


@pytest.mark.slow
@pytest.mark.parametrize("signal", SHIPPED)
def test_a_tenant_fleet_is_otherwise_silent(tenant_fleet: BuiltFleet, signal: str) -> None:
    stray = [
        (f.first_at, f.labels)
        for f in tenant_fleet.firing
        if f.signal == signal and not explained(tenant_fleet, f)
    ]
    assert stray == []


@pytest.mark.slow
@pytest.mark.parametrize("signal", SHIPPED)
def test_a_healthy_zipf_fleet_is_silent(zipf_healthy_fleet: BuiltFleet, signal: str) -> None:
    firing = [(f.first_at, f.labels) for f in zipf_healthy_fleet.firing if f.signal == signal]
    assert firing == []
