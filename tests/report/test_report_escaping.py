"""The whole report over a warehouse whose agents, prompt variants and tools were named by a
hostile trace producer: every section shows the names as text, no script runs."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from fleetsignals.home import Home
from fleetsignals.report import write_report
from fleetsignals.snapshot import current_snapshot
from tests.fixtures.reportbrowser import chart_specs, render
from tests.fixtures.reportfleet import Fleet

HOSTILE = '</script><script>window.__pwned = 1</script><img src=x onerror="__pwned=2">"\'&'
# Trace-controlled text columns, renamed in every table that has them.
RENAMED = {"agent_name", "prompt_variant", "tool_name", "workflow", "tenant_id", "model",
           "dimension_value"}  # fmt: skip


def hostile_home(fleet: Fleet, root: Path) -> Home:
    """A copy of the fleet's snapshot with every trace-controlled name made hostile."""
    home = Home(root / "home").ensure()
    # The snapshot's views read the fleet's lake by its path (fct_runs' as-of view too).
    home.lake.parent.mkdir()
    home.lake.symlink_to(fleet.home.lake.resolve(), target_is_directory=True)
    home.snapshots.mkdir(parents=True, exist_ok=True)
    name = "snapshot-hostile.duckdb"
    with duckdb.connect(str(home.snapshots / name)) as con:
        con.execute(f"attach '{current_snapshot(fleet.home)}' as src (read_only)")
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'src' and table_schema = 'main'"
            ).fetchall()
        ]
        for table in tables:
            columns = [
                row[0]
                for row in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_catalog = 'src' and table_name = ?",
                    [table],
                ).fetchall()
            ]
            renamed = [c for c in columns if c in RENAMED]
            replace = ", ".join(f'$hostile || "{c}" as "{c}"' for c in renamed)
            select = f"* replace ({replace})" if renamed else "*"
            con.execute(
                f'create table main."{table}" as select {select} from src.main."{table}"',
                {"hostile": HOSTILE} if renamed else None,
            )
    (home.snapshots / "CURRENT").write_text(name, encoding="utf-8")
    return home


def test_hostile_names_stay_text(fleet: Fleet, chromium: str, tmp_path: Path) -> None:
    home = hostile_home(fleet, tmp_path)
    out = write_report(home, fleet.config, tmp_path / "report.html")
    text = out.read_text(encoding="utf-8")
    assert "window.__pwned = 1</script>" not in text and "<img" not in text
    # The names did reach the page: as escaped text in the tables, as data in the charts.
    assert text.count("&lt;/script&gt;&lt;script&gt;window.__pwned") >= 3
    assert "agent_name=&lt;/script&gt;&lt;script&gt;" in text  # an alert's labels (replayed)
    titles = [spec["title"] for spec in chart_specs(out).values()]
    assert any(title.startswith(HOSTILE) for title in titles)
    rendered = render(chromium, out, tmp_path)
    assert rendered.status["errors"] == [] and rendered.console == []
    assert rendered.status["resources"] == 0  # an injected <img src=x> would be fetched
    # Only the page's own scripts (error trap, data, uPlot, report.js), no injected element.
    assert len(re.findall(r"<script", rendered.dom)) == 4
    assert "<img" not in rendered.dom
    assert all(chart["drawn"] for chart in rendered.status["charts"])
