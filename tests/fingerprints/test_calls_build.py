"""tool_mix_on_calls end to end: a dbt build with the setting in the model meta computes the
call-count test on real lake files and alerts on a tool-mix shift, not before it. The project
is copied with the setting forced on, so the check holds whatever the shipped default."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from fleetsignals.home import Home
from fleetsignals.snapshot import connect_snapshot
from fleetsignals.warehouse import build, runner
from tests.fixtures.lakefiles import config_with, span, write_spans

T0 = datetime(2026, 11, 20, 0, 0)
DIMS = {"agent_name": "helper", "prompt_variant": "v2"}
TOOLS = ["search", "fetch", "calc", "read"]
SHIFT_H = 5  # the tool mix shifts from this hour on
HOURS = 6


def project_with_calls(root: Path) -> Path:
    """A copy of the dbt project whose fingerprint meta sets tool_mix_on_calls: true."""
    project = root / "project"
    project.mkdir()
    for name in ("dbt_project.yml", "profiles.yml", "macros", "seeds"):
        (project / name).symlink_to(runner.PROJECT / name)
    shutil.copytree(runner.PROJECT / "models", project / "models")
    meta = project / "models" / "marts" / "fingerprints" / "_fingerprints__models.yml"
    lines = [
        line
        for line in meta.read_text(encoding="utf-8").splitlines(keepends=True)
        if not line.lstrip().startswith("tool_mix_on_calls:")
    ]
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("max_tools:"))
    lines.insert(at + 1, "    tool_mix_on_calls: true\n")
    meta.write_text("".join(lines), encoding="utf-8")
    return project


def one_run(i: int, start: datetime, mix: list[float], rng: np.random.Generator) -> list[dict]:
    """A root, one LLM call, then 1-6 tool calls drawn from ``mix``."""
    trace = f"run{i}"
    rows = [
        span(trace, "root", start, 30.0, operation="agent", **DIMS),
        span(trace, "l1", start + timedelta(seconds=0.1), 1.0, parent="root",
             operation="llm", input_tokens=100, output_tokens=20, model="gpt-4o-mini", **DIMS),
    ]  # fmt: skip
    for j, tool in enumerate(rng.choice(TOOLS, size=int(rng.integers(1, 7)), p=mix)):
        rows.append(
            span(
                trace,
                f"t{j}",
                start + timedelta(seconds=2 + j),
                0.5,
                parent="root",
                operation="tool",
                tool_name=str(tool),
                **DIMS,
            )  # fmt: skip
        )
    return rows


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Home:
    root = tmp_path_factory.mktemp("calls_build")
    home, config = Home(root / "home").ensure(), config_with(root)
    rng = np.random.default_rng(21)
    rows = []
    for i in range(HOURS * 60):  # one run a minute
        start = T0 + timedelta(minutes=i)
        mix = [0.5, 0.25, 0.15, 0.1] if i < SHIFT_H * 60 else [0.2, 0.55, 0.15, 0.1]
        rows += one_run(i, start, mix, rng)
    write_spans(home, rows, "runs")
    patch = pytest.MonkeyPatch()
    patch.setattr(runner, "PROJECT", project_with_calls(root))
    try:
        build(home, config, full_refresh=True)
    finally:
        patch.undo()
    return home


def test_a_build_with_tool_mix_on_calls_alerts_on_the_shift_only(built) -> None:
    with connect_snapshot(built) as con:
        rows = con.execute(
            "select window_end_at, p_value, dimensions, is_alert from fct_fingerprint_windows "
            "where p_value is not null order by 1"
        ).fetchall()
    shift = T0 + timedelta(hours=SHIFT_H)
    before = [r for r in rows if r[0] <= shift]
    after = [r for r in rows if r[0] > shift + timedelta(minutes=30)]
    assert before and after  # windows were tested on both sides of the shift
    assert not any(r[3] for r in before)
    assert all(r[3] for r in after)
    # The alerting windows report the call-count test: tool dimensions (4 tools - 1).
    assert {r[2] for r in after} == {len(TOOLS) - 1}
