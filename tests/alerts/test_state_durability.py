"""Alert state and outbox survive kills: SIGKILL a process mid-evaluation, repeatedly."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from fleetsignals.alerts.state import state_path
from tests.fixtures.alertfixtures import write_signal

# Fires on even minutes, resolves on odd ones: every evaluation changes state and enqueues.
FLAPPING = "select 'x' as kind, 1 as value where minute($eval_at) % 2 = 0"

LOOP = """
import sys
from datetime import datetime, timedelta
from pathlib import Path
from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.config import load_config
from fleetsignals.home import Home

home, config, run = Home(Path(sys.argv[1])), load_config(sys.argv[2]), int(sys.argv[3])
start = datetime(2026, 1, 1) + timedelta(days=10 * run)
for step in range(100000):
    evaluate_live(home, config, start + timedelta(minutes=step), notify=False)
    print(step, flush=True)
"""


def test_kill_never_corrupts_state_or_loses_notifications(
    home, snapshot, signal_dir: Path, make_config, run_cli, tmp_path: Path
) -> None:
    write_signal(signal_dir, "flapping", FLAPPING, {"every": "1m"})
    out = tmp_path / "notes.jsonl"
    config, _ = make_config(notify=[{"type": "file", "path": str(out)}])
    chance = random.Random(4)
    for run in range(5):
        process = subprocess.Popen(
            [sys.executable, "-c", LOOP, str(home.root), str(config), str(run)],
            stdout=subprocess.PIPE,
            text=True,
        )
        # Kill after a random number of evaluations, at a random moment within the next one.
        target = chance.randint(3, 10)
        while int(process.stdout.readline()) < target:
            pass
        time.sleep(chance.uniform(0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.wait()
    with sqlite3.connect(state_path(home)) as con:
        assert con.execute("pragma integrity_check").fetchone() == ("ok",)
        history = con.execute("select notification from alert_history order by rowid").fetchall()
        queued = con.execute("select count(*) from outbox").fetchone()[0]
        (state,) = con.execute("select state from instances").fetchall()
    kinds = [k for (k,) in history]
    assert len(kinds) >= 15
    # State, history and outbox committed together: one queued notification per transition,
    # and firing and resolved strictly alternate (a torn write would break either).
    assert queued == len(kinds)
    assert kinds[0] == "firing"
    assert all(a != b for a, b in zip(kinds, kinds[1:], strict=False))
    assert state[0] in ("firing", "resolved")
    # A later evaluation delivers everything queued, at least once, in order.
    result = run_cli("evaluate", "--at", "2026-03-01T00:01:00Z", config=config)
    assert result.exit_code == 0, result.stderr
    delivered = [json.loads(line)["notification"] for line in out.read_text().splitlines()]
    assert delivered[: len(kinds)] == kinds
