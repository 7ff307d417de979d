"""Reports rendered in headless Chromium: every chart draws, nothing errs, nothing is fetched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fleetsignals.report import write_report
from fleetsignals.report.queries import epoch
from tests.fixtures.reportbrowser import ARTIFACTS, Rendered, chart_specs, render, screenshot
from tests.fixtures.reportfleet import Fleet


def assert_clean(rendered: Rendered) -> None:
    status = rendered.status
    assert status["done"], status
    assert status["errors"] == [], status["errors"]
    assert rendered.console == [], rendered.console
    assert status["resources"] == 0, "the page fetched something: it must be self-contained"


def assert_all_drawn(rendered: Rendered, page: Path) -> set[str]:
    """Every chart in the page drew every series, with its colours on the canvas."""
    specs = chart_specs(page)
    charts = {c["id"]: c for c in rendered.status["charts"]}
    assert set(charts) == set(specs)
    for chart_id, chart in charts.items():
        assert chart["drawn"], chart
        assert chart["series"] == chart["expected_series"] == len(specs[chart_id]["series"])
        assert chart["points"] > 0, chart
        # Pixels in a series colour: the data was drawn, not just axes and labels.
        assert chart["series_pixels"] > 100, chart
    return set(charts)


def test_full_report(full_report: Path, chromium: str, tmp_path: Path) -> None:
    out = full_report
    rendered = render(chromium, out, tmp_path)
    assert_clean(rendered)
    drawn = assert_all_drawn(rendered, out)
    for chart_id in (
        "overview-runs",
        "overview-cost",
        "cost-tenant_id",
        "cost-prompt_variant",
        "cost-workflow",
        "cost-tool_name",
        "retention-reasons",
    ):
        assert chart_id in drawn
    agents = {
        spec["title"]: spec for cid, spec in chart_specs(out).items() if cid.startswith("agent-")
    }
    assert len(agents) >= 2
    text = out.read_text(encoding="utf-8")
    if "fingerprint-distance" not in drawn:
        assert "No fingerprint distance in this window" in text
    screenshot(chromium, out, ARTIFACTS / "report" / "full.png", tmp_path, height=6000)


def test_alert_periods_marked_on_the_agent(fleet: Fleet, full_report: Path) -> None:
    out = full_report
    incident = fleet.truth.incident("stuck_runs")
    agent = incident.labels["agent_name"]
    spec = next(s for s in chart_specs(out).values() if s["title"] == agent)
    stuck = [b for b in spec["bands"] if b["label"] == "stuck_agent"]
    assert stuck, f"no stuck_agent period on {agent}'s chart: {spec['bands']}"
    # Each stuck period starts during the incident (or its runs' aftermath), not before.
    assert all(b["from"] >= epoch(incident.start) for b in stuck)
    text = out.read_text(encoding="utf-8")
    assert "stuck_agent" in text and "flagged by stuck_agent" in text
    # Agents the stuck alerts did not name carry no stuck band.
    for cid, other in chart_specs(out).items():
        if cid.startswith("agent-") and other["title"] != agent:
            assert all(b["label"] != "stuck_agent" for b in other["bands"])


def test_empty_window(fleet: Fleet, chromium: str, tmp_path: Path) -> None:
    before = fleet.truth.start - timedelta(days=2)
    out = write_report(
        fleet.home, fleet.config, tmp_path / "empty.html", before, before + timedelta(hours=1)
    )
    rendered = render(chromium, out, tmp_path)
    assert_clean(rendered)
    specs = chart_specs(out)
    # Retention covers the whole warehouse; every windowed section says it has no data.
    assert set(specs) <= {"retention-reasons"}
    assert_all_drawn(rendered, out)
    text = out.read_text(encoding="utf-8")
    assert "No runs started in this window." in text
    assert "No agent has a rolling window in this report window." in text
    assert "No alert fired in this window." in text
    screenshot(chromium, out, ARTIFACTS / "report" / "empty.png", tmp_path, height=2000)


def test_fleet_without_alerts(fleet: Fleet, chromium: str, tmp_path: Path) -> None:
    # The first hour, before any incident and before the statistical signals have a
    # baseline: the shipped signals are evaluated and none fires.
    start = fleet.truth.start
    out = write_report(
        fleet.home, fleet.config, tmp_path / "quiet.html", start, start + timedelta(minutes=60)
    )
    rendered = render(chromium, out, tmp_path)
    assert_clean(rendered)
    drawn = assert_all_drawn(rendered, out)
    assert {"overview-runs", "cost-tool_name"} <= drawn
    text = out.read_text(encoding="utf-8")
    assert "No alert fired in this window." in text
    assert all(not spec.get("bands") for spec in chart_specs(out).values())
    screenshot(chromium, out, ARTIFACTS / "report" / "no-alerts.png", tmp_path, height=4000)
