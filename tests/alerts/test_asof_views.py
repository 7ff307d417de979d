"""The marts as of $eval_at by construction: on an evaluation connection a signal that does
not filter by time at all still sees only the rows known at $eval_at (ended and landed by
then), whatever name it reads them by; other connections see every row."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fleetsignals.alerts.definitions import Signal
from fleetsignals.alerts.evaluation import evaluate_signal
from fleetsignals.config import load_config
from fleetsignals.home import Home
from fleetsignals.sandbox import connect_sandbox
from tests.fixtures.alertfixtures import T0, publish_snapshot

MINUTE = timedelta(minutes=1)

# Calls of one run around T0: (span, ended, landed). Known at T0: a and d (d was archived
# before landed_at was kept: known from its end).
CALLS = """
insert into fct_tool_calls by name
select 'r1' as run_id, span_id, 'search' as tool_name, $t0 - interval 10 minute as started_at,
    $t0 + to_minutes(ended) as ended_at, $t0 + to_minutes(landed) as landed_at
from (values ('a', -5, -4), ('b', -2, 3), ('c', 2, 3), ('d', -1, null)) as c(span_id, ended, landed);
insert into spans by name
select 'r1' as trace_id, span_id, $t0 + to_minutes(ended) as end_at,
    $t0 + to_minutes(landed) as landed_at
from (values ('a', -5, -4), ('b', -2, 3), ('c', 2, 3)) as s(span_id, ended, landed);
insert into fct_runs by name
select run_id, $t0 + to_minutes(started) as started_at
from (values ('r1', -10), ('r2', 1)) as r(run_id, started);
""".replace("$t0", f"timestamp '{T0}'")  # several statements: no parameters


def count(home: Home, sql: str, as_of: bool) -> float | None:
    signal = Signal("count", Path("count.sql"), sql, parameter_names=frozenset())
    with connect_sandbox(home, load_config(None), as_of=as_of) as con:
        evaluation = evaluate_signal(con, signal, T0)
    assert evaluation.error is None
    return evaluation.samples[0].value


def test_an_unfiltered_signal_sees_only_what_was_known_at_eval_at(home: Home) -> None:
    publish_snapshot(home, extra_sql=CALLS)
    calls = "select count(*) as value from {} where run_id = 'r1'"
    for name in ("fct_tool_calls", "main.fct_tool_calls"):
        assert count(home, calls.format(name), as_of=True) == 2  # a and d
        assert count(home, calls.format(name), as_of=False) == 4
    spans = "select count(*) as value from spans where trace_id = 'r1'"
    assert count(home, spans, as_of=True) == 1  # b ended by T0 but landed after it
    assert count(home, spans, as_of=False) == 3
    runs = "select count(*) as value from fct_runs where run_id in ('r1', 'r2')"
    assert count(home, runs, as_of=True) == 1  # r2 had not started


def test_each_evaluation_time_sees_its_own_rows(home: Home) -> None:
    publish_snapshot(home, extra_sql=CALLS)
    signal = Signal(
        "count",
        Path("count.sql"),
        "select count(*) as value from fct_tool_calls where run_id = 'r1'",
        parameter_names=frozenset(),
    )
    with connect_sandbox(home, load_config(None), as_of=True) as con:
        seen = [evaluate_signal(con, signal, T0 + k * MINUTE).samples[0].value for k in (-5, 0, 3)]
    assert seen == [0, 2, 4]


def test_before_the_first_landing_spans_count_from_their_end(home: Home) -> None:
    # History ingested after the fact: at T0 nothing had landed yet (the home's first landing
    # is T0 + 1 min), so a backtest at T0 replays what had ended by then.
    clock = f"create table dim_data_clock as select timestamp '{T0 + MINUTE}' as first_landed_at;"
    publish_snapshot(home, extra_sql=CALLS + clock)
    calls = "select count(*) as value from fct_tool_calls where run_id = 'r1'"
    assert count(home, calls, as_of=True) == 3  # a, b and d ended by T0; c after it
