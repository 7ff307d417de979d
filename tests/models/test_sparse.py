"""A lake with a long gap (an old file landed beside today's data) builds only around its data."""

from __future__ import annotations

from datetime import timedelta

from fleetsignals.warehouse import build
from tests.fixtures.lakefiles import config_with
from tests.fixtures.synthetic import write_synthetic_lake
from tests.fixtures.warehouses import START, query


def test_a_year_between_two_bursts_is_not_walked_step_by_step(make_home, tmp_path) -> None:
    home = make_home()
    old = START - timedelta(days=400)
    write_synthetic_lake(home.lake, start=old, hours=1, runs_per_minute=5, seed=1)
    write_synthetic_lake(home.lake, start=START, hours=1, runs_per_minute=5, seed=2)
    build(home, config_with(tmp_path), full_refresh=True, run_tests=False)
    ends = [row[0] for row in query(home, "select distinct window_end_at from fct_windows_60m")]
    # Each burst: its hour of runs plus a day of zero rows after it, 12 steps an hour
    # (a dense grid over the gap would be ~115,000 steps).
    assert len(ends) <= 2 * (1 + 26) * 12
    assert any(e < old + timedelta(days=2) for e in ends)
    assert any(e >= START for e in ends)
    (fleet_zeros,) = query(
        home,
        "select count(*) from fct_windows_60m where dimension = 'fleet' and run_count = 0"
        " and window_end_at between ? and ?",
        [old + timedelta(hours=3), old + timedelta(hours=20)],
    )[0]
    assert fleet_zeros > 0  # a fleet that stops is still visible as zeros for a day
    (fingerprint_ends,) = query(
        home, "select count(distinct window_end_at) from fct_fingerprint_windows"
    )[0]
    assert fingerprint_ends <= 2 * (1 + 26) * 12
