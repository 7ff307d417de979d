"""Fixtures for the receiver tests: a receiver started as a real subprocess on a free
loopback port (helpers in receivefixtures.py)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fleetsignals.home import Home
from tests.fixtures.receivefixtures import TIMEOUT, ReceiverProcess, pump


@pytest.fixture
def start_receiver(home: Home, tmp_path: Path) -> Iterator[Callable[..., ReceiverProcess]]:
    """Start `fleetsignals receive --listen 127.0.0.1:0` with an optional config YAML."""
    started: list[ReceiverProcess] = []

    def start(config_text: str = "") -> ReceiverProcess:
        config = tmp_path / f"receive-{len(started)}.yml"
        config.write_text(config_text)
        exe = Path(sys.executable).with_name("fleetsignals")
        args = [str(exe), "--home", str(home.root), "--config", str(config)]
        process = subprocess.Popen(
            [*args, "receive", "--listen", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        lines: list[str] = []
        found: queue.Queue = queue.Queue()
        threading.Thread(target=pump, args=(process.stderr, lines, found), daemon=True).start()
        try:
            address = found.get(timeout=TIMEOUT)
        except queue.Empty:
            address = None
        if address is None:
            process.kill()
            process.wait(timeout=TIMEOUT)
            pytest.fail("the receiver did not start:\n" + "".join(lines))
        receiver = ReceiverProcess(process, *address, home.inbox / "otlp-http", lines)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        if receiver.process.poll() is None:
            receiver.process.kill()
            receiver.process.wait(timeout=TIMEOUT)
