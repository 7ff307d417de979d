"""One file per dialect and export shape (tests/data/dialects), through a real ingest and
build: each run's calls, tokens, model, cost and dimensions as expected.yml says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetsignals.config import load_config
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.ingest.vocabulary import shipped_dialects
from fleetsignals.warehouse import build
from tests.fixtures.warehouses import query

DATA = Path(__file__).resolve().parents[1] / "data" / "dialects"
EXPECTED: dict[str, dict[str, dict[str, Any]]] = yaml.safe_load(
    (DATA / "expected.yml").read_text(encoding="utf-8")
)
CASES = [(name, run) for name, runs in EXPECTED.items() for run in runs]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Home:
    root = tmp_path_factory.mktemp("dialects")
    home = Home(root / "home").ensure()
    config = load_config(None)
    summary = land_paths([DATA / name for name in EXPECTED], home, config)
    assert summary.quarantined == 0, summary.reasons
    build(home, config, full_refresh=True)
    return home


def test_every_data_file_has_expectations_and_every_dialect_a_file() -> None:
    files = {p.name for p in DATA.iterdir() if p.suffix in (".json", ".jsonl")}
    assert files == set(EXPECTED)
    stems = {name.split(".")[0] for name in files}
    missing = [d.name for d in shipped_dialects() if d.name not in stems]
    assert not missing, f"dialects without a test file in tests/data/dialects: {missing}"


@pytest.mark.parametrize(("name", "run_id"), CASES, ids=[n for n, _ in CASES])
def test_run_as_expected(built: Home, name: str, run_id: str) -> None:
    expected = dict(EXPECTED[name][run_id])
    tools = expected.pop("tool_names", None)
    columns = list(expected)
    rows = query(built, f"select {', '.join(columns)} from fct_runs where run_id = ?", [run_id])
    assert len(rows) == 1, f"{name}: run {run_id} not built"
    got = dict(zip(columns, rows[0], strict=True))
    for column, value in expected.items():
        if isinstance(value, float):
            assert got[column] == pytest.approx(value, rel=1e-9), (name, column)
        else:
            assert got[column] == value, (name, column)
    if tools is not None:
        found = query(
            built,
            "select tool_name from fct_tool_calls where run_id = ? order by started_at",
            [run_id],
        )
        assert [t for (t,) in found] == tools, name
