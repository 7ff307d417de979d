"""A receiver started as a real subprocess on a free loopback port, and a bounded HTTP client."""

from __future__ import annotations

import http.client
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fleetsignals.home import Home

TIMEOUT = 20.0  # seconds: every wait on the receiver is bounded by this
LISTENING = re.compile(r"listening on http://(\S+?):(\d+)/v1/traces")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class ReceiverProcess:
    process: subprocess.Popen
    host: str
    port: int
    inbox: Path
    lines: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/v1/traces"

    def post(
        self,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        path: str = "/v1/traces",
    ) -> Response:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            connection.request(
                "POST", path, body, {"Content-Type": content_type, **(headers or {})}
            )
            answer = connection.getresponse()
            return Response(answer.status, dict(answer.getheaders()), answer.read())
        finally:
            connection.close()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait (bounded) for the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=TIMEOUT)

    def files(self) -> list[Path]:
        """Every file in the receiver's inbox directory, hidden ones too."""
        return sorted(self.inbox.iterdir()) if self.inbox.is_dir() else []


def _pump(stream, lines: list[str], found: queue.Queue) -> None:
    for line in stream:
        lines.append(line)
        match = LISTENING.search(line)
        if match:
            found.put((match.group(1), int(match.group(2))))
    found.put(None)


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
        threading.Thread(target=_pump, args=(process.stderr, lines, found), daemon=True).start()
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


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
