"""The contract's dimensions are defined once (fleetsignals.contract); every place derives them."""

from __future__ import annotations

from pathlib import Path

import yaml

from fleetsignals.config import load_config
from fleetsignals.contract import (
    DIMENSION_KEYS,
    DIMENSIONS,
    PER_AGENT_DIMENSIONS,
    RUN_DIMENSIONS,
    WINDOW_DIMENSIONS,
)
from fleetsignals.generate.truth import RUNS_SCHEMA
from fleetsignals.home import Home
from fleetsignals.ingest.otlp_sql import build_query
from fleetsignals.ingest.schema import SPAN_SCHEMA
from fleetsignals.ingest.vocabulary import load_vocabulary
from fleetsignals.resources import project_dir
from fleetsignals.warehouse.runner import dbt_vars

CONTRACT_ORDER = [
    "agent_name", "prompt_variant", "workflow", "tenant_id", "user_id", "user_cohort",
    "session_id", "environment", "model",
]  # fmt: skip


def test_the_contract_lists_the_documented_dimensions_in_order() -> None:
    assert [d.name for d in DIMENSIONS] == CONTRACT_ORDER
    assert list(RUN_DIMENSIONS) == CONTRACT_ORDER[:-1]
    assert set(WINDOW_DIMENSIONS) <= set(RUN_DIMENSIONS)
    assert set(PER_AGENT_DIMENSIONS) <= set(WINDOW_DIMENSIONS)


def test_dbt_project_defaults_equal_the_contract() -> None:
    # A bare `dbt build` reads these; `fleetsignals build` passes the contract's.
    project = yaml.safe_load((project_dir() / "dbt_project.yml").read_text(encoding="utf-8"))
    dimensions = project["vars"]["dimensions"]
    assert list(dimensions.items()) == list(DIMENSION_KEYS.items())
    assert project["vars"]["window_dimensions"] == list(WINDOW_DIMENSIONS)
    assert project["vars"]["per_agent_dimensions"] == list(PER_AGENT_DIMENSIONS)


def test_build_passes_the_contract_to_dbt_in_contract_order(tmp_path: Path) -> None:
    path = tmp_path / "fleetsignals.yml"
    path.write_text("dimensions:\n  user_cohort: [app.tier]\n", encoding="utf-8")
    config = load_config(path)
    variables = dbt_vars(Home(tmp_path / "home"), config)
    assert list(variables["dimensions"]) == list(DIMENSION_KEYS)
    assert variables["dimensions"]["user_cohort"] == ["app.tier", "user.cohort"]
    assert variables["window_dimensions"] == list(WINDOW_DIMENSIONS)
    assert variables["per_agent_dimensions"] == list(PER_AGENT_DIMENSIONS)


def test_ingest_and_the_generator_carry_every_dimension() -> None:
    for name in DIMENSION_KEYS:
        assert SPAN_SCHEMA.field(name).type == "string"
        assert RUNS_SCHEMA.field(name).type == "string"
    _, _, macros = build_query(load_vocabulary({}, DIMENSION_KEYS, "test"), [])
    for name in DIMENSION_KEYS:
        assert f" {name} := " in macros


def test_no_macro_or_derived_module_lists_dimension_names() -> None:
    # Macros iterate var `dimensions`; names appear only in the contract module, the
    # dbt_project.yml defaults checked above, and models that use a dimension by name.
    root = project_dir()
    listed = [
        str(path.relative_to(root))
        for path in sorted((root / "macros").glob("*.sql"))
        if sum(f"'{name}'" in path.read_text(encoding="utf-8") for name in RUN_DIMENSIONS) > 1
    ]
    assert listed == []
