"""The console script end to end in a real process: exit status, stdout, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.alertfixtures import COSTLY_SETTINGS, COSTLY_SQL, write_signal


def test_evaluate_in_a_process(home, snapshot, signal_dir: Path, make_config, run_process) -> None:
    write_signal(signal_dir, "costly", COSTLY_SQL, COSTLY_SETTINGS)
    config, _ = make_config()
    done = run_process(
        "--config", str(config), "evaluate", "--at", "2026-11-20T04:10:00Z", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert (record["signal"], record["state"], record["labels"]) == (
        "costly",
        "firing",
        {"tenant_id": "t2"},
    )
    write_signal(signal_dir, "vandal", "delete from fct_runs")
    failed = run_process("--config", str(config), "evaluate", "--at", "2026-11-20T04:15:00Z")
    assert failed.returncode == 1
    assert "costly" in failed.stdout  # the good signal still ran and printed
    assert failed.stderr.splitlines()[-1] == (
        "error: 1 signal(s) failed (see above); the others were evaluated"
    )


def test_bad_input_is_one_line(home, snapshot, signal_dir: Path, make_config, run_process) -> None:
    config, _ = make_config()
    for args, message in [
        (("evaluate", "--at", "yesterday"), "invalid time 'yesterday'"),
        (("backtest", "--start", "2026-11-20T01:00:00Z", "--end", "2026-11-20T00:00:00Z"),
         "--end is before --start"),
        (("backtest", "--start", "2026-11-20T00:00:00Z", "--end", "2026-11-20T01:00:00Z",
          "--every", "5 minutes"), "invalid duration"),
        (("evaluate", "--signal", "nope"), "unknown signal nope"),
    ]:  # fmt: skip
        done = run_process("--config", str(config), *args)
        assert done.returncode == 1, (args, done.stderr)
        (line,) = done.stderr.splitlines()
        assert line.startswith("error: ") and message in line, line


def test_help_texts(run_process) -> None:
    for command in ("evaluate", "backtest", "run"):
        done = run_process(command, "--help")
        assert done.returncode == 0
        assert "Usage: fleetsignals" in done.stdout
