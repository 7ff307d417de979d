"""The SQL sandbox as a hostile signal author sees it: no host file, no write, no hang.

Each attack here worked before ``fleetsignals.sandbox`` (see docs/signals.md "SQL sandbox").
Tests that could hang on a regression run in a thread or subprocess with a bound, so a
regression fails instead of stalling the suite.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.alerts.definitions import Signal, load_signals
from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.alerts.evaluation import Evaluation, evaluate_signal
from fleetsignals.alerts.state import load_instances, open_state
from fleetsignals.config import load_config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.sandbox import connect_sandbox
from fleetsignals.timeutil import format_time
from tests.fixtures.alertfixtures import T0, write_signal

BOUND = 60  # seconds: far above any honest run, far below a hang
SECRET = "xoxb-sandbox-test-not-a-real-token"


def bounded(work: Callable[[], Any]) -> Any:
    """Run ``work`` in a thread; fail (instead of hanging) if it does not end within BOUND."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    thread.join(BOUND)
    assert not thread.is_alive(), f"still running after {BOUND}s: a blocking read escaped"
    return out[0]


def run_signal(home: Home, sql: str, **kwargs: Any) -> Evaluation:
    """Evaluate ``sql`` on the sandboxed connection, skipping load-time checks (as if a
    signal got past them)."""
    signal = Signal("hostile", Path("hostile.sql"), sql, parameter_names=frozenset())
    with connect_sandbox(home, load_config(None)) as con:
        return bounded(lambda: evaluate_signal(con, signal, T0, **kwargs))


HOST_READS = {
    "passwd_csv": "select column0 as line, 1 as value from read_csv('/etc/passwd', header=false)",
    "environ": "select content as env, 1 as value from read_text('/proc/self/environ')",
    "blob": "select content::varchar as raw, 1 as value from read_blob('/etc/passwd')",
    "glob": "select file, 1 as value from glob('/root/*')",
    "parent_dir": "select file, 1 as value from glob('../*')",
}


@pytest.mark.parametrize("sql", HOST_READS.values(), ids=HOST_READS.keys())
def test_a_signal_reads_no_host_file(home, snapshot, sql) -> None:
    evaluation = run_signal(home, sql)
    assert evaluation.samples == []
    assert "Permission Error" in evaluation.error


def test_environment_token_never_becomes_a_label(
    home, snapshot, run_cli, signal_dir, make_config, monkeypatch
) -> None:
    # The attack that turned a Slack webhook token into an alert label.
    monkeypatch.setenv("SLACK_TOKEN", SECRET)
    sql = (
        "select regexp_extract(content, 'SLACK_TOKEN=([^\\x00]*)', 1) as token, 1 as value "
        "from read_text('/proc/self/environ')"
    )
    write_signal(signal_dir, "leak", sql)
    config, _ = make_config()
    result = run_cli("evaluate", "--at", format_time(T0), "--format", "json", config=config)
    assert result.exit_code == 1
    assert "leak.sql: signal leak: SQL error: Permission Error" in result.stderr
    assert SECRET not in result.output + result.stderr
    with open_state(home) as state:
        assert load_instances(state, "leak") == {}


@pytest.mark.parametrize(
    "call",
    [
        "getenv('SLACK_TOKEN')",
        "current_setting('allowed_directories')",
        "(select count(*) from duckdb_settings())",
        "(select count(*) from duckdb_secrets())",
        "(select count(*) from duckdb_databases())",
        "\"CURRENT_SETTING\"('temp_directory')",
    ],
)
def test_host_settings_functions_are_refused(tmp_path, signal_dir, call) -> None:
    write_signal(signal_dir, "peek", f"select {call}::varchar as what, 1 as value")
    signals, problems = load_signals([signal_dir])
    assert signals == []
    (problem,) = problems
    assert "peek.sql: signal peek: refused:" in str(problem)
    assert "may not be called" in str(problem)


class _Counter(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).hits += 1
        self.send_response(404)
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        return None


def test_an_url_makes_no_request_and_installs_no_extension(home, snapshot) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/x.parquet"
        evaluation = run_signal(home, f"select count(*) as value from read_parquet('{url}')")
        https = run_signal(
            home, "select count(*) as value from read_parquet('https://example.invalid/x.parquet')"
        )
    finally:
        server.shutdown()
    assert _Counter.hits == 0
    for error in (evaluation.error, https.error):
        # Refused before DuckDB looks for httpfs: no auto-install (a download) is tried.
        assert "Permission Error" in error
        assert "extension" not in error.lower()


@pytest.mark.parametrize(
    "sql",
    [
        "copy (select 1 as value) to '{home}/lake/spans/evil.parquet'",
        "export database '{home}/lake/spans/export'",
        "attach '{home}/warehouse.duckdb' as w (read_only false)",
        "set enable_external_access = true",
        "load httpfs",
        "install httpfs",
        "pragma version",
        "call pragma_version()",
        "create table main.x as select 1 as value",
        "select 1 as value; select 2 as value",
    ],
)
def test_statements_other_than_one_select_are_refused(
    home, snapshot, run_cli, signal_dir, make_config, sql
) -> None:
    write_signal(signal_dir, "vandal", sql.format(home=home.root))
    config, _ = make_config()
    result = run_cli("evaluate", "--at", format_time(T0), config=config)
    assert result.exit_code == 1
    (line,) = [x for x in result.stderr.splitlines() if "vandal" in x]
    assert "vandal.sql: signal vandal:" in line
    assert "refused" in line or "exactly one query" in line
    assert not (home.lake / "evil.parquet").exists()
    assert not (home.lake / "export").exists()


def test_the_sandbox_refuses_copy_even_past_the_gate(home, snapshot) -> None:
    # Defence in depth: a read-only DuckDB connection would still COPY into an allowed
    # directory; here the statement gate is bypassed, so the file rules must hold it.
    home.lake.mkdir(parents=True, exist_ok=True)
    target = Path("/tmp") / f"fleetsignals-sandbox-{os.getpid()}.csv"
    evaluation = run_signal(home, f"copy (select 1 as value) to '{target}'")
    assert evaluation.error
    assert not target.exists()
    with (
        connect_sandbox(home, load_config(None)) as con,
        pytest.raises(duckdb.Error, match="locked"),
    ):
        con.execute("set enable_external_access = true")


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def test_a_fifo_fails_fast_at_evaluation(home, snapshot, tmp_path) -> None:
    fifo = _fifo(tmp_path)  # nobody ever writes: opening it for reading would block
    evaluation = run_signal(home, f"select length(content) as value from read_text('{fifo}')")
    assert "Permission Error" in evaluation.error


def test_stdin_fails_fast_at_evaluation(home, snapshot) -> None:
    evaluation = run_signal(home, "select length(content) as value from read_text('/dev/stdin')")
    assert "Permission Error" in evaluation.error


@pytest.mark.parametrize("source", ["fifo", "/dev/stdin"])
def test_a_blocking_file_fails_fast_at_load(
    home, snapshot, tmp_path, signal_dir, make_config, source
) -> None:
    # In a real process whose stdin stays open and empty: before the sandbox, binding the
    # query at load time (check_against) blocked `evaluate` forever.
    path = _fifo(tmp_path) if source == "fifo" else Path(source)
    write_signal(signal_dir, "blocker", f"select length(content) as value from read_text('{path}')")
    config, _ = make_config()
    exe = Path(sys.executable).with_name("fleetsignals")
    with subprocess.Popen(
        [str(exe), "--home", str(home.root), "--config", str(config), "evaluate"],
        stdin=subprocess.PIPE,  # kept open and empty: a read of /dev/stdin would block
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            process.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"evaluate still running after {BOUND}s: the load-time check blocked")
        err = process.stderr.read()
    assert process.returncode == 1
    assert "blocker.sql: signal blocker: SQL error: Permission Error" in err


def test_a_timed_out_signal_is_not_rerun_by_a_backtest(
    home, snapshot, signal_dir, make_config, caplog
) -> None:
    slow = "select count(*) as value from range(100000000000) where $eval_at is not null"
    write_signal(signal_dir, "slow", slow)
    write_signal(signal_dir, "quick", "select 'a' as x, 1 as value where $eval_at is not null")
    _, config = make_config(alerts={"query_timeout": "0.3s"})
    caplog.set_level(logging.INFO, logger="fleetsignals.alerts.evaluation")
    result = bounded(
        lambda: run_backtest(home, config, T0, T0 + timedelta(minutes=50), timedelta(minutes=5))
    )
    (problem,) = result.problems
    assert problem.name == "slow" and "timed out after 0.3s" in problem.message
    runs = [r for r in caplog.records if r.getMessage().startswith("signal slow at")]
    assert len(runs) == 1  # 11 steps, one evaluation
    quick = [r for r in caplog.records if r.getMessage().startswith("signal quick at")]
    assert len(quick) == 11


FLOOD = "select i::varchar as run_id, 1 as value from range({n}) as t(i) where $eval_at is not null"


def test_a_signal_over_its_limit_fails_whole(
    home, snapshot, run_cli, signal_dir, make_config
) -> None:
    write_signal(signal_dir, "flood", FLOOD.format(n=20), {"limit": 10})
    write_signal(signal_dir, "fits", FLOOD.format(n=10), {"limit": 10})
    config, _ = make_config()
    result = run_cli("evaluate", "--at", format_time(T0), "--format", "json", config=config)
    assert result.exit_code == 1
    assert "signal flood: returned more than 10 instances (limit)" in result.stderr
    with open_state(home) as state:
        assert load_instances(state, "flood") == {}  # nothing of it applied
        assert len(load_instances(state, "fits")) == 10


def test_the_operator_limit_caps_a_signal_limit(home, snapshot, signal_dir, make_config) -> None:
    write_signal(signal_dir, "greedy", FLOOD.format(n=10), {"limit": 1000000})
    _, config = make_config(alerts={"instance_limit": 5})
    outcome = evaluate_live(home, config, T0, notify=False)
    (problem,) = outcome.problems
    assert "more than 5 instances" in problem.message


def test_a_flood_is_cut_off_without_reading_it_all(home, snapshot) -> None:
    # 10^11 rows: unbounded reading would time out (or exhaust memory) long before the end.
    signal = Signal(
        "flood",
        Path("f.sql"),
        FLOOD.format(n=100000000000),
        limit=100,
        parameter_names=frozenset({"eval_at"}),
    )
    with connect_sandbox(home, load_config(None)) as con:
        evaluation = bounded(lambda: evaluate_signal(con, signal, T0, timeout=BOUND / 2))
    assert "more than 100 instances" in evaluation.error


def test_the_memory_limit_holds(home, snapshot, make_config) -> None:
    _, config = make_config(sandbox={"memory_limit": "20MB"})
    signal = Signal("hog", Path("h.sql"), "select len(list(i)) as value from range(30000000) t(i)")
    with connect_sandbox(home, config) as con:
        evaluation = bounded(lambda: evaluate_signal(con, signal, T0))
    assert "Out of Memory" in evaluation.error


def test_a_bad_memory_limit_is_one_clear_line(home, snapshot, make_config) -> None:
    _, config = make_config(sandbox={"memory_limit": "lots"})
    with pytest.raises(FleetsignalsError, match=r"config sandbox.memory_limit 'lots': .*e.g. 2GB"):
        connect_sandbox(home, config)
