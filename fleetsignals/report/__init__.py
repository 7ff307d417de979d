"""The visual report: one self-contained HTML file (charts by uPlot, inline; works offline).

``write_report(home, config, out, start=None, end=None, progress=False) -> Path`` is what
`fleetsignals report` and the demo call. See docs/report.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from fleetsignals import __version__
from fleetsignals.alerts.backtest import BacktestResult
from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.files import write_atomic
from fleetsignals.home import Home
from fleetsignals.report import (
    agents,
    attribution,
    details,
    fingerprints,
    overview,
    quality,
    runs,
    savings,
    sections,
)
from fleetsignals.report.firing import replay_alerts, replay_steps
from fleetsignals.report.page import Page
from fleetsignals.report.window import Window, resolve_window
from fleetsignals.snapshot import current_snapshot
from fleetsignals.timeutil import format_time

__all__ = ["report_steps", "write_report"]


def write_report(
    home: Home,
    config: Config,
    out: Path,
    start: datetime | None = None,
    end: datetime | None = None,
    progress: bool = False,
    backtest: BacktestResult | None = None,
) -> Path:
    """Write the report of runs that started in [start, end] to ``out``; returns its path.

    The window defaults to the data's range, capped at its last 24 hours. Reads the
    current snapshot only (never the writer's database); alert periods come from a
    backtest of every signal over the window (``backtest``, when the caller already ran
    one at exactly `report_steps`, else run here).
    """
    say = _progress(progress)
    snapshot = current_snapshot(home)  # one clear error when nothing was built yet
    # This snapshot, read-only, even if a build publishes a newer one meanwhile. Only the
    # report's own queries run here; the signals it replays run sandboxed in run_backtest.
    with duckdb.connect(str(snapshot), read_only=True) as con:
        window = resolve_window(con, start, end)
        page = Page(
            "fleetsignals report",
            f"{window.text() if window else 'no runs in the warehouse'} (UTC) · snapshot "
            f"{snapshot.parent.name} · generated {format_time(datetime.now(UTC))} · "
            f"fleetsignals {__version__}",
        )
        if window is None:
            _empty(page)
        else:
            say(f"report: {window.text()}: querying the warehouse")
            _fill(page, con, home, config, window, say, progress, backtest)
    out = Path(out)
    _write_atomic(out, page.render())
    say(f"report: wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return out


def report_steps(home: Home) -> list[datetime]:
    """The evaluation times a default-window report replays signals at (none without runs):
    a caller that backtests exactly these can hand its result to `write_report`."""
    with duckdb.connect(str(current_snapshot(home)), read_only=True) as con:
        window = resolve_window(con, None, None)
    return replay_steps(window) if window else []


def _fill(
    page: Page,
    con: duckdb.DuckDBPyConnection,
    home: Home,
    config: Config,
    window: Window,
    say: Callable[[str], None],
    progress: bool,
    backtest: BacktestResult | None,
) -> None:
    totals = overview.query_totals(con, window)
    hourly = overview.query_hourly(con, window)
    windows = agents.query_agent_windows(con, window)
    costs = attribution.query_attribution(con, window)
    costliest = runs.query_costliest(con, window)
    prints = fingerprints.query_fingerprints(con, window)
    kept = savings.query_savings(con, home)
    labelled = quality.query_quality(con, window)
    say("report: replaying signals over the window for alert periods")
    firing = replay_alerts(home, config, window, progress, backtest)
    flagged = {
        e["labels"]["run_id"]: e["signal"] for e in firing.episodes if "run_id" in e["labels"]
    }
    stuck = runs.query_stuck(con, window, flagged)
    colors = sections.signal_colors(firing)
    fleet_bands = sections.bands(
        [e for e in firing.episodes if "agent_name" not in e["labels"]], colors
    )
    page.add(
        "overview", "Fleet overview", sections.overview_section(page, totals, hourly, fleet_bands)
    )
    page.add("alerts", "Alerts", sections.alerts_section(firing, colors))
    page.add(
        "agents",
        "Per agent: P95 cost and P99 depth",
        sections.agents_section(page, windows, firing, colors),
    )
    page.add("cost", "Cost attribution", details.attribution_section(page, costs))
    page.add("runs", "Costliest and stuck runs", details.runs_section(costliest, stuck))
    page.add("quality", "Quality labels", quality.quality_section(labelled))
    page.add("fingerprints", "Fingerprint distance", details.fingerprints_section(page, prints))
    page.add("retention", "Retention savings", details.retention_section(page, kept))  # fmt: skip


def _empty(page: Page) -> None:
    text = "No runs in the warehouse yet: ingest traces and run `fleetsignals build`."
    for section_id, title in [
        ("overview", "Fleet overview"),
        ("alerts", "Alerts"),
        ("agents", "Per agent: P95 cost and P99 depth"),
        ("cost", "Cost attribution"),
        ("runs", "Costliest and stuck runs"),
        ("quality", "Quality labels"),
        ("fingerprints", "Fingerprint distance"),
        ("retention", "Retention savings"),
    ]:
        page.add(section_id, title, f'<p class="note empty">{text}</p>')


def _write_atomic(out: Path, text: str) -> None:
    if out.is_dir():
        raise FleetsignalsError(f"--out {out} is a directory: give a file name such as report.html")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # Replaced whole but not fsynced (a report can be made again); meant to be shared.
        write_atomic(out, text, durable=False, mode=0o644)
    except OSError as exc:
        raise FleetsignalsError(f"cannot write {out}: {exc.strerror}") from None


def _progress(enabled: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if enabled:
            print(message, file=sys.stderr, flush=True)

    return say
