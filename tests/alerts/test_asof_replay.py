"""Issue 13 item 1: live evaluation at T on a warehouse that holds only the files landed by T
agrees with a backtest at T on the full warehouse, at many times, labels and values included.

The fleet is replayed file by file: each export file lands at its own minute (ingest's clock
is the one seam set here; ingest, dbt builds and the shipped signals are real), the warehouse
is built and evaluated live every five minutes, as the scheduler would. Runs are in flight at
every step of the stuck-runs incident, and a run's root span ends last, so it arrives in a
later file than its children.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.backtest import BacktestResult, run_backtest
from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.config import Config, load_config
from fleetsignals.generate import generate_fleet
from fleetsignals.home import Home
from fleetsignals.ingest import land
from fleetsignals.ingest.land import land_paths
from fleetsignals.warehouse import build
from tests.fixtures.ingest_inputs import attr, jsonl, request, span, write

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 1)
EVERY = timedelta(minutes=5)


def instances(records: list[dict]) -> list[tuple]:
    return sorted(
        (r["signal"], r["state"], tuple(sorted(r["labels"].items())), round(r["value"] or 0, 9))
        for r in records
    )


def live_and_replay(
    tmp_path: Path,
    dumps: list[Path],
    config: Config,
    steps: list[datetime],
    full_at: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[list[dict], BacktestResult]:
    """Land ``dumps`` file by file into a live home, building and evaluating at each step,
    and everything landed by ``full_at`` into a second home backtested at the same steps.
    Each file lands one minute after the minute it was exported in, as a live exporter's."""
    landing: list[datetime] = [START]
    monkeypatch.setattr(land, "parse_time", lambda text=None: landing[0])

    def land_up_to(home: Home, at: datetime, done: set[Path]) -> None:
        for path in dumps:
            if path not in done and _minute(path) + timedelta(minutes=1) <= at:
                landing[0] = _minute(path) + timedelta(minutes=1)
                land_paths([path], home, config, settle_seconds=0)
                done.add(path)

    live_home, landed = Home(tmp_path / "live").ensure(), set()
    live_records: list[dict] = []
    for at in steps:
        land_up_to(live_home, at, landed)
        build(live_home, config)
        live = evaluate_live(live_home, config, at, notify=False)
        assert live.problems == []
        live_records += [dict(r, at=at) for r in live.records]

    full_home = Home(tmp_path / "full").ensure()
    land_up_to(full_home, full_at, set())
    build(full_home, config)
    replay = run_backtest(full_home, config, steps[0], steps[-1], EVERY)
    assert replay.problems == []
    return live_records, replay


def assert_agree(live_records: list[dict], replay: BacktestResult, steps: list[datetime]) -> None:
    disagree = {}
    for at in steps:
        seen_live = set(instances([r for r in live_records if r["at"] == at]))
        seen_replay = set(instances([r for r in replay.records if r["eval_at"] == at]))
        if seen_live != seen_replay:
            disagree[at] = (sorted(seen_live - seen_replay), sorted(seen_replay - seen_live))
    assert disagree == {}, "live only / backtest only, per step: " + repr(disagree)


@pytest.mark.slow
def test_file_by_file_live_equals_backtest(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)  # the dbt project and the shipped signals live at the repo root
    fleet = tmp_path / "fleet"
    generate_fleet(fleet, start=START, hours=2, runs_per_minute=6, seed=11,
                   incidents=[("stuck_runs", timedelta(minutes=70), timedelta(minutes=30))])  # fmt: skip
    dumps = sorted((fleet / "dumps").iterdir())
    config_path = tmp_path / "fleetsignals.yml"
    config_path.write_text(f"signal_dirs: [{REPO / 'signals'}]\n")
    config = load_config(config_path)
    # Steps from before the incident through it and past its end.
    steps = [START + timedelta(minutes=m) for m in range(60, 111, 5)]
    live_records, replay = live_and_replay(
        tmp_path, dumps, config, steps, START + timedelta(hours=3), monkeypatch
    )

    assert any(r["signal"] == "stuck_agent" for r in live_records)  # not vacuous
    assert_agree(live_records, replay, steps)


def _minute(path: Path) -> datetime:
    # traces-20261101T0134.jsonl holds the spans exported in that minute
    return datetime.strptime(path.name.split("-")[1].split(".")[0], "%Y%m%dT%H%M")


# A run whose root span names the agent and its prompt variant, and ends (and lands) last:
# its other spans carry neither, so while it is in flight its agent is the service's name.
# Its first LLM call is "small", its later ones "big"; it repeats one tool call (stuck).
LATE = START + timedelta(minutes=45)
RUN_COLUMNS = """/* ---
description: every run as fct_runs shows it
severity: info
--- */
select
    run_id, agent_name, prompt_variant, model, status,
    strftime(started_at, '%H:%M') as started, strftime(ended_at, '%H:%M') as ended,
    'steps ' || step_count || ', tools ' || tool_call_count || ', spans ' || span_count as counts,
    input_tokens as value
from fct_runs
"""


def _late_root_fleet(directory: Path) -> list[Path]:
    """One export file per minute (the spans that ended in it), as a batching exporter's."""
    minute = 60 * 10**9
    t0 = int(START.replace(tzinfo=UTC).timestamp()) * 10**9

    def at(minutes: float) -> int:
        return t0 + int(minutes * minute)

    def chat(trace: int, number: int, start: float, model: str) -> dict:
        return span(trace, number, parent=0, start_ns=at(start), duration_ns=minute // 2,
                    attributes=[attr("gen_ai.operation.name", "chat"),
                                attr("gen_ai.request.model", model),
                                attr("gen_ai.usage.input_tokens", 100),
                                attr("gen_ai.usage.output_tokens", 10)])  # fmt: skip

    def tool(trace: int, number: int, start: float) -> dict:
        return span(trace, number, parent=0, start_ns=at(start), duration_ns=minute // 2,
                    attributes=[attr("gen_ai.operation.name", "execute_tool"),
                                attr("gen_ai.tool.name", "poll"),
                                attr("gen_ai.tool.call.arguments", '{"job": 7}')])  # fmt: skip

    root = [attr("gen_ai.agent.name", "research"), attr("gen_ai.agent.version", "v-root")]
    spans = [
        # The stuck run: root from minute 1 to LATE, calls every minute until minute 40.
        span(1, 0, start_ns=at(1), duration_ns=at(45) - at(1), attributes=root),
        chat(1, 1, 1.5, "small"),
        *(tool(1, n, 2 + n) for n in range(2, 39)),
        *(chat(1, 40 + n, 30 + n, "big") for n in range(3)),
        # A run fully known within minutes.
        span(2, 0, start_ns=at(3), duration_ns=4 * minute, attributes=root),
        chat(2, 1, 3.5, "small"),
    ]
    resource = [attr("service.name", "research-agent")]
    by_minute: dict[int, list[dict]] = {}
    for item in spans:
        ended = (int(item["endTimeUnixNano"]) - t0) // minute
        by_minute.setdefault(ended, []).append(item)
    return [
        write(
            directory / f"traces-{(START + timedelta(minutes=m)):%Y%m%dT%H%M}.jsonl",
            jsonl([request(group, resource=resource)]),
        )  # fmt: skip
        for m, group in sorted(by_minute.items())
    ]


@pytest.mark.slow
def test_a_run_in_flight_has_its_dimensions_as_of_eval_at(tmp_path: Path, monkeypatch) -> None:
    """Live and backtest agree on an in-flight run's agent, prompt variant, model, status and
    totals although its root span (the one naming the agent) ends and lands after eval_at:
    the stuck_agent labels and every column of fct_runs, at every step."""
    monkeypatch.chdir(REPO)
    dumps = _late_root_fleet(tmp_path / "fleet")
    own = tmp_path / "signals"
    own.mkdir()
    (own / "run_columns.sql").write_text(RUN_COLUMNS, encoding="utf-8")
    config_path = tmp_path / "fleetsignals.yml"
    config_path.write_text(f"signal_dirs: [{REPO / 'signals'}, {own}]\n")
    config = load_config(config_path)
    steps = [START + timedelta(minutes=m) for m in range(15, 56, 5)]
    live_records, replay = live_and_replay(
        tmp_path, dumps, config, steps, START + timedelta(hours=1), monkeypatch
    )

    stuck = [r for r in live_records if r["signal"] == "stuck_agent"]
    assert stuck and {r["labels"]["agent_name"] for r in stuck} == {"research-agent"}
    in_flight = [r for r in live_records if r["signal"] == "run_columns"
                 and r["labels"]["run_id"] == f"{1:032x}" and r["at"] < LATE]  # fmt: skip
    assert {r["labels"].get("prompt_variant") for r in in_flight} == {None}  # not vacuous
    assert {r["labels"]["model"] for r in in_flight} == {"small", "big"}
    assert_agree(live_records, replay, steps)
