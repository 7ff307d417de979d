"""`seen_instances`: the one way other stages (retention) read the alert state."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.state import seen_instances, state_path
from fleetsignals.errors import FleetsignalsError
from fleetsignals.timeutil import format_time
from tests.fixtures.alertfixtures import COSTLY_SETTINGS, COSTLY_SQL, T0, write_signal


def test_no_state_reads_as_nothing_and_is_not_created(home) -> None:
    assert seen_instances(home) == []
    assert not state_path(home).exists()


def test_current_instances_and_notifications_are_seen(
    home, snapshot, signal_dir: Path, make_config, run_cli
) -> None:
    write_signal(signal_dir, "costly", COSTLY_SQL, COSTLY_SETTINGS)
    config, _ = make_config()
    for minutes in (250, 260):  # t2 costs 5x from T0 + 4h: firing at once (no `for`)
        done = run_cli(
            "evaluate", "--at", format_time(T0 + timedelta(minutes=minutes)), config=config
        )
        assert done.exit_code == 0, done.output
    seen = seen_instances(home)
    # The instance at its last evaluation, and its one firing notification at the first.
    assert sorted((s.signal, s.eval_at, s.labels["tenant_id"]) for s in seen) == [
        ("costly", T0 + timedelta(minutes=250), "t2"),
        ("costly", T0 + timedelta(minutes=260), "t2"),
    ]


def test_an_unreadable_state_says_what_to_do(home) -> None:
    state_path(home).parent.mkdir(parents=True, exist_ok=True)
    state_path(home).write_bytes(b"not a database, but a file a crash truncated")
    with pytest.raises(
        FleetsignalsError,
        match="cannot read the alert state .*: file is not a database; `fleetsignals evaluate`",
    ):
        seen_instances(home)
