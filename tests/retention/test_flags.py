"""The anomaly reason: runs flagged by a signal (re-evaluated) or found in the alert state."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from fleetsignals.alerts.state import open_state
from fleetsignals.config import load_config
from fleetsignals.home import Home
from fleetsignals.retention import retain
from fleetsignals.retention.policies import HASH_SPACE
from fleetsignals.snapshot import connect_snapshot
from tests.fixtures.retention_lakes import publish_runs, synthetic_home

START = datetime(2026, 11, 26, 0, 0)
AT = START + timedelta(hours=3, minutes=5)  # decides hours 00 and 01

DEEP = """/* ---
description: runs with 11 steps or more (test signal)
every: 5m
--- */
select run_id, step_count::double as value
from fct_runs
where step_count >= 10 and ended_at <= $eval_at and ended_at > $eval_at - interval 5 minute
"""
AGENT = """/* ---
description: the coder agent misbehaves from 01:00 to 01:10 (test signal)
every: 5m
--- */
select agent_name, 1.0 as value
from (select distinct agent_name from fct_runs)
where agent_name = 'coder'
    and $eval_at >= timestamp '2026-11-26 01:00:00'
    and $eval_at < timestamp '2026-11-26 01:10:00'
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flags") / "home"
    synthetic_home(root, START, hours=3, slice_minutes=30)
    publish_runs(root)
    return root


def _setup(template: Path, tmp_path: Path, reevaluate: bool) -> tuple[Home, object]:
    home = Home(tmp_path / "home")
    shutil.copytree(template, home.root)
    signals = tmp_path / "signals"
    signals.mkdir()
    (signals / "deep_runs.sql").write_text(DEEP)
    (signals / "coder_alarm.sql").write_text(AGENT)
    (signals / "broken.sql").write_text("select run_id, 1.0 as value from no_such_table\n")
    config = tmp_path / "fleetsignals.yml"
    config.write_text(
        yaml.safe_dump(
            {"signal_dirs": [str(signals)], "retention": {"reevaluate_signals": reevaluate}}
        )
    )
    return home, load_config(config)


def _reasons(home: Home) -> dict[str, str]:
    files = [str(p) for p in (home.facts / "retention").glob("*.parquet")]
    with duckdb.connect() as con:
        rows = con.execute(
            "select run_id, retention_reason from read_parquet($f)", {"f": files}
        ).fetchall()
    return dict(rows)


def _weights(home: Home) -> dict[str, float]:
    files = [str(p) for p in (home.facts / "retention").glob("*.parquet")]
    with duckdb.connect() as con:
        rows = con.execute(
            "select run_id, sample_weight from read_parquet($f)", {"f": files}
        ).fetchall()
    return dict(rows)


def _u(run_id: str) -> float:
    return int(hashlib.md5(run_id.encode()).hexdigest()[:15], 16) / HASH_SPACE


def _runs(home: Home) -> dict[str, tuple]:
    with connect_snapshot(home) as con:
        rows = con.execute(
            "select run_id, status, step_count, agent_name, started_at, ended_at from fct_runs"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_runs_a_signal_flags_are_kept_as_anomaly(template: Path, tmp_path: Path) -> None:
    home, config = _setup(template, tmp_path, reevaluate=True)
    summary = retain(home, config, AT)
    # A failing signal is reported once and flags nothing; the others still count.
    broken = [n for n in summary.notes if "not used for retention" in n and "signal broken:" in n]
    assert broken == summary.notes[:1]
    assert len(summary.notes) == 1
    reasons = _reasons(home)
    runs = _runs(home)
    deep = {r for r in reasons if runs[r][1] >= 10 and runs[r][0] == "ok"}
    assert deep
    assert all(reasons[r] in ("anomaly", "cost_tail") for r in deep)
    low, high = datetime(2026, 11, 26, 0, 55), datetime(2026, 11, 26, 1, 5)
    window = {
        r for r in reasons if runs[r][2] == "coder" and runs[r][3] <= high and runs[r][4] > low
    }
    # The coder group was named without evidence rule (an analyst's signal): its runs are
    # not flagged, they are sampled at min(1, max(10 %, 20 / n)) with weight 1 / that rate.
    assert window and not any(reasons[r] == "anomaly" and r not in deep for r in window)
    rest = [r for r in window if r not in deep]
    rate = min(1.0, max(0.10, 20 / len(rest)))
    weights = _weights(home)
    for r in rest:
        if reasons[r] not in ("error", "cost_tail"):
            assert reasons[r] == ("sampled" if _u(r) < rate else "pruned"), r
            assert weights[r] == (pytest.approx(1 / rate) if _u(r) < rate else 0.0)
    # The group's own rate, above the uniform 10 %, kept runs the uniform sample would not.
    assert rate > 0.10 and any(0.10 <= _u(r) < rate for r in rest if reasons[r] == "sampled")
    # Outside the flagged window the coder's healthy shallow runs are sampled as usual.
    others = {
        r
        for r in reasons
        if runs[r][2] == "coder" and runs[r][0] == "ok" and runs[r][1] < 10 and r not in window
    }
    assert {reasons[r] for r in others} <= {"sampled", "pruned", "cost_tail"}
    assert sum(reasons[r] == "pruned" for r in others) > len(others) * 0.7


def test_group_flags_can_be_turned_off(template: Path, tmp_path: Path) -> None:
    home, config = _setup(template, tmp_path, reevaluate=True)
    config.data["retention"]["flag_groups"] = False
    retain(home, config, AT)
    reasons = _reasons(home)
    runs = _runs(home)
    anomalies = {r for r, reason in reasons.items() if reason == "anomaly"}
    assert anomalies and all(runs[r][1] >= 10 for r in anomalies)  # only the run-id signal


def test_alert_state_flags_are_read_without_reevaluation(template: Path, tmp_path: Path) -> None:
    home, config = _setup(template, tmp_path, reevaluate=False)
    runs = _runs(home)
    healthy = sorted(
        r
        for r, (status, steps, *_rest) in runs.items()
        if status == "ok" and steps < 10 and _rest[2] and _rest[2] < START + timedelta(hours=1)
    )[:3]
    with open_state(home) as con:
        con.execute(
            "insert into alert_history values (?, ?, 'firing', ?, 1.0)",
            (
                "stuck_agent",
                json.dumps({"run_id": healthy[0], "agent_name": "x"}),
                (START + timedelta(minutes=30)).isoformat(),
            ),
        )
    retain(home, config, AT)
    reasons = _reasons(home)
    assert reasons[healthy[0]] == "anomaly"
    # Without re-evaluation the test signals flagged nothing else.
    assert sum(v == "anomaly" for v in reasons.values()) == 1


def test_runs_an_anomaly_mart_marks_are_kept(template: Path, tmp_path: Path) -> None:
    home, config = _setup(template, tmp_path, reevaluate=False)
    runs = _runs(home)
    healthy = sorted(
        r
        for r, (status, steps, *_rest) in runs.items()
        if status == "ok" and steps < 10 and _rest[2] and _rest[2] < START + timedelta(hours=1)
    )
    snapshot = next(home.snapshots.glob("*.duckdb"))
    with duckdb.connect(str(snapshot)) as con:
        con.execute(
            "create table fct_run_fingerprints as select run_id, 0.5 as anomaly_score, "
            "run_id in ($a, $b) as is_anomalous from fct_runs",
            {"a": healthy[1], "b": healthy[2]},
        )
    retain(home, config, AT)
    reasons = _reasons(home)
    assert reasons[healthy[1]] == reasons[healthy[2]] == "anomaly"
    assert sum(v == "anomaly" for v in reasons.values()) == 2


DRIFT = """/* ---
description: the coder agent's behaviour drifts from 01:00 to 01:10 (test signal)
every: 5m
params:
  window_minutes: 10
--- */
select agent_name, 1.0 as value
from (select distinct agent_name from fct_runs)
where agent_name = 'coder'
    and $eval_at >= timestamp '2026-11-26 01:00:00'
    and $eval_at < timestamp '2026-11-26 01:10:00'
    and $window_minutes > 0
"""


def test_a_drift_keeps_the_runs_above_its_baseline_p95_score(
    template: Path, tmp_path: Path
) -> None:
    """fingerprint_drift's evidence: runs of the group in its windows whose anomaly score
    is above the P95 of the group's scores over the 24 h before, not the whole group."""
    home, config = _setup(template, tmp_path, reevaluate=True)
    (Path(config["signal_dirs"][0]) / "fingerprint_drift.sql").write_text(DRIFT)
    snapshot = next(home.snapshots.glob("*.duckdb"))
    with duckdb.connect(str(snapshot)) as con:
        # A score that varies from run to run: cost, with no run marked is_anomalous.
        con.execute(
            "create table fct_run_anomaly_scores as select run_id, agent_name, ended_at, "
            "cost_usd as anomaly_score, false as is_anomalous from fct_runs"
        )
        low = datetime(2026, 11, 26, 0, 50)  # first window (00:50, 01:00], last ends 01:05
        bound = con.execute(
            "select quantile_cont(cost_usd, 0.95) from fct_runs "
            "where agent_name = 'coder' and ended_at > $start and ended_at <= $low",
            {"low": low, "start": low - timedelta(hours=24)},
        ).fetchone()[0]
        window = dict(
            con.execute(
                "select run_id, cost_usd > $bound from fct_runs where agent_name = 'coder' "
                "and ended_at > $low and ended_at <= $high and status = 'ok' and step_count < 10",
                {"bound": bound, "low": low, "high": datetime(2026, 11, 26, 1, 5)},
            ).fetchall()
        )
    retain(home, config, AT)
    reasons = _reasons(home)
    above = [r for r, is_above in window.items() if is_above]
    below = [r for r, is_above in window.items() if not is_above]
    assert above and len(below) > 3 * len(above)
    assert all(reasons[r] in ("anomaly", "cost_tail") for r in above)
    assert not any(reasons[r] == "anomaly" for r in below)


COSTLY = """/* ---
description: the coder agent's costly runs from 01:00 to 01:10 (test signal)
every: 5m
--- */
select agent_name, 1.0 as value, bound
from (
    select agent_name, quantile_cont(cost_usd, 0.8) as bound from fct_runs group by agent_name
)
where agent_name = 'coder'
    and $eval_at >= timestamp '2026-11-26 01:00:00'
    and $eval_at < timestamp '2026-11-26 01:10:00'
"""


def test_an_analysts_signal_gets_the_evidence_rule_configured_for_it(
    template: Path, tmp_path: Path
) -> None:
    home, config = _setup(template, tmp_path, reevaluate=True)
    (Path(config["signal_dirs"][0]) / "coder_costly.sql").write_text(COSTLY)
    config.data["retention"]["evidence"] = {
        "coder_costly": {"kind": "above", "column": "cost_usd", "threshold": "bound"}
    }
    with connect_snapshot(home) as con:
        window = dict(
            con.execute(
                "select run_id, cost_usd > (select quantile_cont(cost_usd, 0.8) from fct_runs "
                "    where agent_name = 'coder') "
                "from fct_runs where agent_name = 'coder' and status = 'ok' and step_count < 10 "
                "and ended_at > $low and ended_at <= $high",
                {"low": datetime(2026, 11, 26, 0, 55), "high": datetime(2026, 11, 26, 1, 5)},
            ).fetchall()
        )
    retain(home, config, AT)
    reasons = _reasons(home)
    above = [r for r, is_above in window.items() if is_above]
    below = [r for r, is_above in window.items() if not is_above]
    assert above and below
    assert all(reasons[r] in ("anomaly", "cost_tail") for r in above)
    assert not any(reasons[r] == "anomaly" for r in below)


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        ({"s": {"kind": "bigger"}}, "retention.evidence.s: give kind, one of failed_call"),
        ({"s": {"kind": "above", "column": "cost_usd"}}, "kind above needs column"),
        ({"s": {"kind": "none", "colour": 1}}, "unknown key 'colour'"),
        (["s"], "retention.evidence must map a signal name to a rule"),
    ],
)
def test_bad_evidence_rules_fail_with_a_message(evidence: object, message: str) -> None:
    from fleetsignals.errors import FleetsignalsError
    from fleetsignals.retention.evidence import parse_rules

    with pytest.raises(FleetsignalsError, match=message):
        parse_rules(evidence)


# Both name a run ended in the 15 minutes before $eval_at; ON_GRID only at times on a
# 15-minute grid, OFF_GRID only at times off it.
EVERY_15M = """/* ---
description: a run of the {grid} (test signal)
every: 15m
--- */
select run_id, 1.0 as value
from fct_runs
where step_count < 10
    and ended_at <= $eval_at and ended_at > $eval_at - interval 15 minute
    and (minute($eval_at) % 15 = 0) = {on_grid}
"""


def test_each_signal_is_replayed_at_multiples_of_its_own_every(
    template: Path, tmp_path: Path
) -> None:
    """As the scheduler evaluates it: a 15-minute signal at :00, :15, :30, :45 only."""
    home, config = _setup(template, tmp_path, reevaluate=True)
    signals = Path(config["signal_dirs"][0])
    for name, on_grid in (("on_grid", "true"), ("off_grid", "false")):
        (signals / f"{name}.sql").write_text(EVERY_15M.format(grid=name, on_grid=on_grid))
    summary = retain(home, config, AT)
    assert summary.anomaly_by_signal.get("on_grid", 0) > 0
    assert "off_grid" not in summary.anomaly_by_signal
