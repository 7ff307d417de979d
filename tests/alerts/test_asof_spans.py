"""The as-of `spans` and `stg_otel__spans` of an evaluation connection: the build's dedup
split (macros/deduplicated_spans.sql, `split`) gives the rows that deduplicating every span
and then filtering as of $eval_at gives, while only the spans with copies go through the
dedup window (real ingest, a real dbt build, copies landed from several files)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from fleetsignals.config import load_config
from fleetsignals.home import Home
from fleetsignals.ingest import land
from fleetsignals.ingest.land import land_paths
from fleetsignals.sandbox import connect_sandbox, set_eval_at
from fleetsignals.warehouse import build
from tests.fixtures.ingest_inputs import T0, attr, jsonl, request, span, write

REPO = Path(__file__).resolve().parents[2]
MINUTE_NS = 60 * 10**9
T = datetime.fromtimestamp(T0 / 10**9, UTC).replace(tzinfo=None)


def _span(trace: int, number: int, ends_min: float, name: str | None = None) -> dict:
    """A span of ``trace`` ending ``ends_min`` minutes after T (started a minute before)."""
    out = span(trace, number, parent=None if number == 0 else 0,
               start_ns=T0 + int((ends_min - 1) * MINUTE_NS), duration_ns=MINUTE_NS,
               attributes=[attr("gen_ai.operation.name", "chat")])  # fmt: skip
    if name:
        out["name"] = name
    return out


# (minutes after T it lands, its spans). Span (1, 1) lands three times, (2, 0) and (3, 0)
# twice: the copy landed first is the one kept, and each copy counts from its own landing.
FILES = [
    (1, [_span(1, 0, 0.5), _span(1, 1, 0.2), _span(1, 2, 0.4), _span(2, 0, 0.8)]),
    (3, [_span(1, 1, 0.2, "copy"), _span(1, 3, 2.0), _span(3, 0, 2.5)]),
    (5, [_span(1, 1, 0.2, "copy 2"), _span(2, 0, 0.8, "copy"), _span(3, 0, 2.5, "copy")]),
]
COPIES = 7  # lake rows of the keys landed more than once


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Home:
    tmp = tmp_path_factory.mktemp("asof-spans")
    home = Home(tmp / "home").ensure()
    config = load_config(None)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)  # the dbt project lives at the repo root
        for minutes, spans in FILES:
            landed = T + timedelta(minutes=minutes)
            patch.setattr(land, "parse_time", lambda text=None, at=landed: at)
            path = write(tmp / "dumps" / f"m{minutes}.jsonl", jsonl([request(spans)]))
            land_paths([path], home, config, settle_seconds=0)
        build(home, config, run_tests=False)
    return home


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall(), key=repr)


@pytest.mark.parametrize("minutes", [0, 2, 4, 6])
@pytest.mark.parametrize("relation", ["spans", "stg_otel__spans"])
def test_split_view_equals_dedup_then_filter(built: Home, relation: str, minutes: int) -> None:
    eval_at = T + timedelta(minutes=minutes)
    config = load_config(None)
    first_landed = T + timedelta(minutes=1)
    landed_by = datetime.max if eval_at < first_landed else eval_at
    # The window over every span, then the as-of rule: the snapshot's own view, filtered.
    # (One connection at a time: a process shares one locked instance per database file.)
    with connect_sandbox(built, config) as plain:
        expected = rows(
            plain,
            f"select * from {relation} where end_at <= '{eval_at}'"
            f" and coalesce(landed_at, end_at) <= '{landed_by}'",
        )
    assert len(expected) == {0: 0, 2: 4, 4: 6, 6: 6}[minutes]
    with connect_sandbox(built, config, as_of=True) as evaluation:
        set_eval_at(evaluation, eval_at)
        assert rows(evaluation, f"select * from {relation}") == expected
        if minutes >= 2:  # (1, 1) landed at 1, 3 and 5 minutes: the first copy is kept
            name = evaluation.execute(
                f"select name from {relation} where trace_id = ? and span_id = ?",
                [f"{1:032x}", f"{2:016x}"],
            ).fetchall()
            assert name == [("span 1",)]


def _windows(node: dict) -> list[dict]:
    found = [node] if node.get("name") == "WINDOW" else []
    for child in node.get("children", []):
        found += _windows(child)
    return found


def test_only_spans_with_copies_go_through_the_window(built: Home) -> None:
    with connect_sandbox(built, load_config(None), as_of=True) as con:
        set_eval_at(con, T + timedelta(minutes=6))
        plan = con.execute("explain (analyze, format json) select count(*) from spans").fetchall()
    windows = [w for root in json.loads(plan[0][1])["operator"] for w in _windows(root)]
    assert windows  # the dedup window is there
    # Its input: the copies only (before the split, all ten lake rows).
    seen = sum(child["intermediate_rows"] for window in windows for child in window["children"])
    assert seen == COPIES
