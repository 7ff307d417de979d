"""`fleetsignals run` with receive.enabled: the scheduler serves OTLP/HTTP and lands what it got."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.fixtures.receivefixtures import (
    TIMEOUT,
    ReceiverProcess,
    json_request,
    lake_rows,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_run_starts_the_receiver_and_lands_what_it_accepted(home, tmp_path: Path) -> None:
    (tmp_path / "no-signals").mkdir()
    config = tmp_path / "fleetsignals.yml"
    config.write_text(
        f"signal_dirs: [{tmp_path / 'no-signals'}]\n"
        "scheduler: {ingest_every: 1s, build_every: 1h, retain_every: 1h, settle: 0s}\n"
        "receive: {enabled: true, listen: '127.0.0.1:0'}\n"
    )
    exe = Path(sys.executable).with_name("fleetsignals")
    process = subprocess.Popen(
        [str(exe), "--home", str(home.root), "--config", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        env={**os.environ},
    )
    log = home.logs / "run.log"
    try:
        found: list[re.Match] = []

        def listening() -> bool:
            text = log.read_text() if log.exists() else ""
            found[:] = list(re.finditer(r"listening on http://(\S+?):(\d+)/v1/traces", text))
            return bool(found) or process.poll() is not None

        wait_for(listening, "the receiver to listen")
        assert found, log.read_text()
        receiver = ReceiverProcess(
            process, found[0].group(1), int(found[0].group(2)), home.inbox / "otlp-http"
        )
        assert receiver.post(orjson.dumps(json_request(1, 2))).status == 200
        # The first build runs before the first ingest (jobs never overlap): allow for it.
        wait_for(lambda: len(lake_rows(home)) == 2, "the scheduler to land the spans", 240)
        assert len(lake_rows(home)) == 2, log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=240) == 0
        assert "receive: stopped" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=TIMEOUT)
