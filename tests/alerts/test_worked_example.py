"""The worked example of docs/signals.md (cost per tenant above its own baseline), run as written."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.alerts.records import episodes
from fleetsignals.config import load_config
from fleetsignals.snapshot import connect_snapshot
from tests.fixtures.alertfixtures import SURGE, T0, publish_snapshot

DOC = Path(__file__).resolve().parents[2] / "docs" / "signals.md"


def example_sql() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Worked example", 1)[1]
    return re.search(r"```sql\n(.*?)```", section, re.S).group(1)


def test_worked_example_fires_for_the_costly_tenant_only(home, tmp_path: Path) -> None:
    publish_snapshot(home, extra_sql=SURGE)
    with connect_snapshot(home) as con:
        surge = con.execute(
            "select count(*) from fct_runs where tenant_id = 't1' and started_at >= ?",
            [T0 + timedelta(hours=4)],
        ).fetchone()[0]
    assert surge == 3 * 120
    signals = tmp_path / "signals"
    signals.mkdir()
    (signals / "tenant_cost_vs_baseline.sql").write_text(example_sql(), encoding="utf-8")
    config_path = tmp_path / "fleetsignals.yml"
    config_path.write_text(f"signal_dirs: [{signals}]\n", encoding="utf-8")
    result = run_backtest(
        home,
        load_config(config_path),
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=8),
        timedelta(minutes=5),
    )
    assert result.problems == []
    assert {r["labels"]["tenant_id"] for r in result.records} == {"t2"}
    (episode,) = episodes(result.records, result.steps)
    # The median flips once half the 60-minute window is expensive (~04:30); then for: 10m.
    assert T0 + timedelta(minutes=270) <= episode["start"] <= T0 + timedelta(minutes=290)
    assert episode["start"] - min(
        r["eval_at"] for r in result.records if r["state"] == "pending"
    ) == timedelta(minutes=10)
    # Data ends at 06:00: the window empties below min_runs, then keep_firing_for (15m).
    assert (
        T0 + timedelta(hours=6, minutes=30) <= episode["end"] <= T0 + timedelta(hours=7, minutes=15)
    )
    assert 4.5 < episode["max_value"] < 5.5
    assert episode["summary"].startswith("t2: median cost per run 4.9x")
