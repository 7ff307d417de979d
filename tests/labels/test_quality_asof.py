"""Labels as of arrival: live at T, with only the spans and labels that had landed by T,
gives the same instances as a backtest at T over the full history with every label
(generated fleet with a quality incident, real ingest and labels, real dbt builds)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.config import load_config
from fleetsignals.generate import generate_fleet
from fleetsignals.generate.labels import arrival
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.warehouse import build
from tests.fixtures.labelreplay import land_labels_as_arrived

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 1)


def instances(records: list[dict]) -> list[tuple]:
    return sorted(
        (r["signal"], r["state"], tuple(sorted(r["labels"].items())), round(r["value"] or 0, 9))
        for r in records
    )


def _minute(path: Path) -> datetime:
    return datetime.strptime(path.name.split("-")[1].split(".")[0], "%Y%m%dT%H%M")


@pytest.mark.slow
def test_live_at_t_equals_backtest_at_t_with_labels(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    fleet = tmp_path / "fleet"
    generate_fleet(fleet, start=START, hours=6.5, runs_per_minute=20, seed=3, labels=True,
                   incidents=[("quality_drop", timedelta(hours=5), timedelta(minutes=60))])  # fmt: skip
    at = START + timedelta(hours=5, minutes=45)
    config_path = tmp_path / "fleetsignals.yml"
    config_path.write_text(f"signal_dirs: [{REPO / 'signals'}]\n")
    config = load_config(config_path)
    dumps = sorted((fleet / "dumps").iterdir())
    labels = sorted((fleet / "labels").iterdir())
    assert any(arrival(p) > at for p in labels)  # labels arrive after T: the backtest has them

    live = Home(tmp_path / "live").ensure()
    land_paths([p for p in dumps if _minute(p) <= at + timedelta(minutes=3)], live, config)
    land_labels_as_arrived(fleet / "labels", live, config, until=at)
    build(live, config)
    now = evaluate_live(live, config, at, notify=False)
    assert now.problems == []

    full = Home(tmp_path / "full").ensure()
    land_paths(dumps, full, config)
    land_labels_as_arrived(fleet / "labels", full, config)
    build(full, config)
    replay = run_backtest(full, config, at, at, timedelta(minutes=5))
    assert replay.problems == []

    assert instances(now.records) == instances(replay.records)
    fired = [r for r in now.records if r["signal"] == "quality_drop"]
    assert fired and fired[0]["labels"]["prompt_variant"] == "prompt-b"  # not vacuous
