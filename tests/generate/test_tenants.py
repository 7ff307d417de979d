"""The long-tailed tenant option and the one-tenant cost jump."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pytest

from fleetsignals.errors import FleetsignalsError
from fleetsignals.generate import generate_fleet
from fleetsignals.generate.shape import build_shape

START = datetime(2026, 11, 1)


def test_tenants_give_a_long_tail_and_change_nothing_else() -> None:
    usual, long_tail = build_shape(11), build_shape(11, tenants=400)
    assert len(long_tail.tenants) == 400
    assert [a.name for a in long_tail.agents] == [a.name for a in usual.agents]
    assert long_tail.cohorts == usual.cohorts
    shares = np.sort(long_tail.tenant_weights)[::-1]
    # Zipf-like: a few tenants carry a good part of the traffic, hundreds are tiny.
    assert shares[0] > 0.05 and shares[:5].sum() > 0.3
    assert (shares < 0.001).sum() > 200


def test_tenant_cost_jump_hits_one_tenant_of_one_agent(tmp_path: Path) -> None:
    truth = generate_fleet(
        tmp_path / "fleet", start=START, hours=2, runs_per_minute=6, seed=4, tenants=300,
        incidents=[("tenant_cost_jump", "1h", "40m", {"cost_factor": 2.0})],
    )  # fmt: skip
    incident = truth.incidents[0]
    assert incident.signal == "p95_cost_jump"
    assert set(incident.labels) == {"agent_name", "tenant_id"}
    assert incident.params["cost_factor"] == 2.0
    runs = pl.read_parquet(truth.runs_path)
    hit = runs.filter(pl.col("incident") == "tenant_cost_jump")
    assert hit.height > 0 and set(hit["run_id"]) == set(incident.run_ids)
    assert set(hit["tenant_id"]) == {incident.labels["tenant_id"]}
    assert set(hit["agent_name"]) == {incident.labels["agent_name"]}
    # The smallest tenant still carrying 5 % of the runs (tenants are drawn apart from agents).
    share = runs.filter(pl.col("tenant_id") == incident.labels["tenant_id"]).height / runs.height
    assert 0.02 < share < 0.15


def test_tenant_cost_jump_names_a_missing_tenant(tmp_path: Path) -> None:
    with pytest.raises(FleetsignalsError, match="no tenant 'tn-nope'"):
        generate_fleet(
            tmp_path / "fleet", start=START, hours=1, runs_per_minute=2, seed=4,
            incidents=[("tenant_cost_jump", "20m", "20m", {"tenant_id": "tn-nope"})],
        )  # fmt: skip


def test_all_incidents_stay_the_six(tmp_path: Path) -> None:
    truth = generate_fleet(tmp_path / "fleet", start=START, hours=5, runs_per_minute=1, seed=3)
    assert "tenant_cost_jump" not in {i.name for i in truth.incidents}
    assert "tenants" not in truth.params


def test_cli_tenants_and_the_tenant_incident(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    result = run_cli("generate", "--out", str(out), "--hours", "1", "--runs-per-minute", "3",
                     "--tenants", "250", "--incidents", "tenant_cost_jump@20m+30m")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = orjson.loads((out / "ground_truth.json").read_bytes())
    assert doc["params"]["tenants"] == 250
    assert [i["name"] for i in doc["incidents"]] == ["tenant_cost_jump"]
    assert run_cli("generate", "--out", str(out), "--tenants", "0").exit_code != 0
