"""data_stale and stuck_agent read the lake as landed (stg_otel__span_copies), copies of a
span included, instead of the deduplicated `spans`: their results must be exactly those of
the same query over `spans`, at every evaluation time, on a lake where many spans landed
twice (later, or at the same time from another file), a service counts under min_spans
only once its copies are deduplicated, and ingest stopped for 20 minutes (spans landing
out of order, after later ones). Real Parquet lake, real dbt build, as-of connections."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import duckdb
import pytest

from fleetsignals.alerts.definitions import load_signals
from fleetsignals.home import Home
from fleetsignals.sandbox import connect_sandbox, set_eval_at
from fleetsignals.warehouse import build
from tests.fixtures.lakefiles import span, write_spans
from tests.fixtures.signalfleets import REPO, signal_config
from tests.fixtures.synthetic import write_synthetic_lake

START = datetime(2026, 11, 3)
# Ingest stops at minute 60: what ends in [60, 80) lands at minute 81, after later spans.
STOP, RESUME = START + timedelta(minutes=60), START + timedelta(minutes=81)
COPIES = "stg_otel__span_copies"
EVAL_TIMES = [START + timedelta(minutes=m) for m in range(20, 121, 5)]


def minute(m: float) -> datetime:
    return START + timedelta(minutes=m)


def small_service() -> list[dict]:
    """15 tool spans of one run of svc-small, one every two minutes from minute 70:
    under data_stale's min_spans (20) once deduplicated, over it counted with copies."""
    return [
        span(
            "small", f"tool #{n}", minute(70 + 2 * n), 1, parent="root", operation="tool",
            tool_name="poll", tool_args_hash="same", service_name="svc-small",
            landed_at=minute(70 + 2 * n) + timedelta(seconds=30),
        )
        for n in range(15)
    ]  # fmt: skip


def land_copies(home: Home) -> int:
    """Land a second copy of about a third of the lake's spans (by key) in files of their
    own: most a few minutes after the first, some at the same time from another file."""
    lake = str(home.lake / "*" / "*" / "*.parquet")
    with duckdb.connect() as con:
        rows = con.sql(
            "select * exclude (dt, hr) replace ("
            "  landed_at + to_seconds(case when hash(span_id) % 4 = 0 then 0"
            "    else 60 + cast(hash(trace_id) % 1500 as bigint) end) as landed_at,"
            "  'copy-' || source_sha256 as source_sha256)"
            " from read_parquet($lake, hive_partitioning = true)"
            " where hash(trace_id, span_id) % 3 = 0",
            params={"lake": lake},
        ).to_arrow_table()
    write_spans(home, rows.to_pylist(), "copies")
    return rows.num_rows


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> Home:
    root = tmp_path_factory.mktemp("copies")
    home = Home(root / "home").ensure()
    for m in range(0, 125):
        end = minute(m + 1)
        arrival = RESUME if STOP <= end < RESUME else end + timedelta(seconds=20)
        write_synthetic_lake(home.lake, start=START, hours=2, runs_per_minute=4,
                             seed=9, since=minute(m), until=end, landed_at=arrival)  # fmt: skip
    write_spans(home, small_service(), "small")
    assert land_copies(home) > 1000
    build(home, signal_config(root), full_refresh=True)
    return home


def results(home: Home, name: str, relation: str) -> dict[datetime, list[tuple]]:
    """The shipped signal's rows at every EVAL_TIMES, its copies relation replaced by
    ``relation``, on an as-of connection as evaluation uses."""
    (signal,), _ = load_signals([REPO / "signals"], names=[name])
    sql = signal.sql.replace(COPIES, relation)
    found = {}
    with connect_sandbox(home, signal_config(home.root), as_of=True) as con:
        for at in EVAL_TIMES:
            set_eval_at(con, at)
            found[at] = sorted(con.execute(sql, signal.bind(at)).fetchall(), key=repr)
    return found


@pytest.mark.parametrize("name", ["data_stale", "stuck_agent"])
def test_same_rows_as_over_the_deduplicated_spans(copied: Home, name: str) -> None:
    shipped, over_spans = results(copied, name, COPIES), results(copied, name, "spans")
    assert shipped == over_spans
    # Not vacuous: the signal fires at some of these times.
    assert any(shipped.values())


def test_the_copies_change_what_data_stale_counts(copied: Home) -> None:
    """The fixture's copies matter: counted without deduplication, data_stale's answer
    differs (svc-small watched, counts and landings of the others moved)."""
    (signal,), _ = load_signals([REPO / "signals"], names=["data_stale"])
    naive = re.sub(r"\n    from spans\n", "\n    from copies\n", signal.sql)
    assert naive != signal.sql
    with connect_sandbox(copied, signal_config(copied.root), as_of=True) as con:
        differs = 0
        for at in EVAL_TIMES:
            set_eval_at(con, at)
            shipped = sorted(con.execute(signal.sql, signal.bind(at)).fetchall(), key=repr)
            differs += shipped != sorted(con.execute(naive, signal.bind(at)).fetchall(), key=repr)
    assert differs > 0


def test_copies_relation_is_as_of(copied: Home) -> None:
    """A copy landed after $eval_at is not seen, as for every other relation."""
    with connect_sandbox(copied, signal_config(copied.root), as_of=True) as con:
        set_eval_at(con, minute(70))
        late = con.execute(
            f"select count(*) from {COPIES} where landed_at > $at or end_at > $at",
            {"at": minute(70)},
        ).fetchone()[0]
    assert late == 0
