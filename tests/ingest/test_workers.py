"""Big files are parsed by worker processes: the lake and the quarantine match in-process parsing."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

import fleetsignals.ingest.sources
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from tests.fixtures.ingest_inputs import attr, lake_rows, request, span, synthetic_lines, write

LIMIT = "attribute_value_length_limit: 100"
IN_PROCESS = "ingest: {workers: 2, processes_from_mib: 100000, " + LIMIT + "}"
PROCESSES = "ingest: {workers: 2, processes_from_mib: 0, " + LIMIT + "}"
YEAR_2200_NS = 7_258_118_400_000_000_000


@pytest.fixture
def source(tmp_path, monkeypatch):
    """A file of many small chunks, with bad records in several of them, a span from the
    future and one over the attribute length limit."""
    monkeypatch.setattr(fleetsignals.ingest.sources, "CHUNK_BYTES", 32 << 10)
    data, ids = synthetic_lines(6_000, per_line=40, seed=11, step_ns=2_000_000_000)
    lines = data.splitlines()
    for at in (3, 70, 140):
        lines[at] = lines[at][: len(lines[at]) // 2]  # truncated records
    lines[100] = orjson.dumps(request([span(5, 0), span(5, 1, start_ns=YEAR_2200_NS)]))
    lines[120] = orjson.dumps(request([span(6, 0, attributes=[attr("a", "x" * 500)])]))
    path = write(tmp_path / "big.jsonl", b"\n".join(lines) + b"\n")
    return path, len(ids) - 5 * 40 + 2


def landed(tmp_path, name: str, path, config_text: str, config) -> tuple[list[dict], list[dict]]:
    home = Home(tmp_path / name)
    summary = land_paths([path], home, config(config_text))
    (reason,) = summary.reasons
    sidecar = orjson.loads((home.root / reason).read_bytes())
    rejects = [
        orjson.loads(x) for x in (home.quarantine / sidecar["content"]).read_bytes().splitlines()
    ]
    for reject in rejects:  # each home judged times at its own landing time
        reject["error"] = reject["error"].split(" after its file landed at ")[0]
    rows = [{k: v for k, v in r.items() if k != "landed_at"} for r in lake_rows(home)]
    return rows, rejects


def test_processes_land_what_in_process_parsing_lands(source, tmp_path, config) -> None:
    path, good = source
    inline_rows, inline_rejects = landed(tmp_path, "inline", path, IN_PROCESS, config)
    pool_rows, pool_rejects = landed(tmp_path, "pool", path, PROCESSES, config)
    assert len(inline_rows) == good
    assert pool_rows == inline_rows
    assert [r["line"] for r in pool_rejects] == [4, 71, 101, 121, 141]
    assert pool_rejects[2]["error"].startswith("end time in the future")
    assert pool_rejects[3]["landed"] is True  # cut in the lake, kept whole here
    assert pool_rejects == inline_rejects


SCRIPT = """
import sys
from pathlib import Path
from fleetsignals.config import load_config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
summary = land_paths([Path(sys.argv[1])], Home(Path(sys.argv[2])), load_config(Path(sys.argv[3])))
print(summary.spans)
"""


def test_a_script_without_main_guard_can_use_processes(tmp_path) -> None:
    """Workers never re-run the caller's script (multiprocessing's spawn would, and deadlock)."""
    data, ids = synthetic_lines(2_000)
    source = write(tmp_path / "in.jsonl", data)
    (tmp_path / "fleetsignals.yml").write_text(PROCESSES + "\n")
    (tmp_path / "script.py").write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "script.py", str(source), str(tmp_path / "home"), "fleetsignals.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) == len(ids)


def test_a_folder_named_ingest_in_the_working_directory_does_not_shadow_workers(
    tmp_path, config, monkeypatch
) -> None:
    data, ids = synthetic_lines(500)
    source = write(tmp_path / "in.jsonl", data)
    shadow = tmp_path / "work" / "ingest"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise SystemExit('the wrong ingest package')\n")
    monkeypatch.chdir(shadow.parent)
    summary = land_paths([source], Home(tmp_path / "home"), config(PROCESSES))
    assert summary.spans == len(ids)


def test_a_worker_killed_mid_file_is_a_clear_error_and_a_rerun_lands(
    source, tmp_path, config, monkeypatch
) -> None:
    """Out of memory kills a worker: the file is not landed (nor half-landed), the message
    says what happened, and a rerun lands it whole."""
    import signal

    import fleetsignals.ingest.workers

    path, good = source
    home = Home(tmp_path / "home")
    original = fleetsignals.ingest.workers.ParserPool._parse
    calls = []

    def kill_on_third(self, chunk):
        calls.append(1)
        if len(calls) == 3:
            self.processes[0].send_signal(signal.SIGKILL)
            self.processes[1].send_signal(signal.SIGKILL)
        return original(self, chunk)

    monkeypatch.setattr(fleetsignals.ingest.workers.ParserPool, "_parse", kill_on_third)
    with pytest.raises(FleetsignalsError, match="worker process died"):
        land_paths([path], home, config(PROCESSES))
    assert lake_rows(home) == []
    assert not [p for p in home.lake.rglob("*") if ".tmp-" in p.name], "temporary files left"
    monkeypatch.undo()
    summary = land_paths([path], home, config(PROCESSES))
    assert summary.spans == good
