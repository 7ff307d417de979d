"""Secrets stay in the config: a sink's URL path, query, userinfo and credentials appear in no
error, log, outbox row or state file (the report reads neither the
sinks' config nor the outbox); sinks authenticate as Prometheus' http_config
does, against real local HTTP servers."""

from __future__ import annotations

import base64
import logging
import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from fleetsignals.alerts.outbox import deliver
from fleetsignals.alerts.sinks import build_sinks
from fleetsignals.alerts.sinks.redact import address, scrub
from fleetsignals.alerts.state import state_path
from fleetsignals.cli_env import Env
from fleetsignals.commands.run import configure_logging
from fleetsignals.config import load_config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.orchestrate.scheduler import Runner
from fleetsignals.timeutil import format_time, parse_time
from tests.fixtures.alertfixtures import (
    COSTLY_SETTINGS,
    COSTLY_SQL,
    T0,
    Receiver,
    free_port,
    write_signal,
)


def at(minutes: int) -> str:
    return format_time(T0 + timedelta(minutes=minutes))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def costly(signal_dir: Path, snapshot) -> None:
    write_signal(signal_dir, "costly", COSTLY_SQL, COSTLY_SETTINGS)


@pytest.fixture
def run_log(home) -> Iterator[Path]:
    """The scheduler's logging (stderr and HOME/logs/run.log), as `fleetsignals run` sets it."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    configure_logging(Env(str(home.root), None))
    yield home.logs / "run.log"
    for handler in set(root.handlers) - set(before):
        handler.close()
        root.removeHandler(handler)
    root.setLevel(level)


# (sink type, URL with the secrets in it, the secrets, what the errors may say instead)
SECRET_URLS = [
    ("slack", "http://127.0.0.1:{port}/hooks/T000/SECRETTOKEN?token=abc", ["SECRETTOKEN", "token=abc"]),
    ("webhook", "http://user:hunter2@127.0.0.1:{port}/hooks/T000/SECRETTOKEN", ["hunter2", "user:", "SECRETTOKEN"]),
    ("alertmanager", "http://127.0.0.1:{port}/am/SECRETTOKEN?token=abc", ["SECRETTOKEN", "token=abc"]),
]  # fmt: skip


def state_bytes(home) -> bytes:
    """Every file of the alert state (the database and its WAL), as stored."""
    return b"".join(p.read_bytes() for p in sorted(home.alerts.iterdir()) if p.is_file())


def last_errors(home) -> list[str]:
    with sqlite3.connect(state_path(home)) as con:
        rows = con.execute("select last_error from outbox where last_error is not null")
        return [row[0] for row in rows]


@pytest.mark.parametrize(("kind", "template", "secrets"), SECRET_URLS)
@pytest.mark.parametrize("failure", ["refused-503", "rejected-400", "unreachable"])
def test_failed_delivery_shows_no_secret(
    costly, make_config, run_cli, home, receiver, run_log, monkeypatch, capfd, kind, template,
    secrets, failure,
) -> None:  # fmt: skip
    port = free_port() if failure == "unreachable" else receiver.server.server_address[1]
    url = template.format(port=port)
    monkeypatch.setenv("SINK_URL", url)
    config, cfg = make_config(notify=[{"type": kind, "url": "${SINK_URL}"}])
    receiver.echo = True  # the receiver repeats the path and credentials in its error
    receiver.refuse_with = 400 if failure == "rejected-400" else 503
    result = run_cli("evaluate", "--at", at(250), config=config)
    assert result.exit_code == 3
    assert "not delivered" in result.stderr
    assert f"http://127.0.0.1:{port}" in result.stderr  # the address says which sink
    # The scheduler retries (a fresh row when the first one was set aside).
    run_cli("evaluate", "--at", at(390), config=config)
    Runner(home, cfg).retry_deliveries()
    deliver(home, build_sinks(cfg["notify"]), now=parse_time("now") + timedelta(hours=1))
    logged = run_log.read_text(encoding="utf-8")
    assert f"sink {kind}" in logged
    captured = capfd.readouterr()
    stored = last_errors(home)
    assert stored and all(f"http://127.0.0.1:{port}" in e for e in stored)
    places = {
        "evaluate stderr": result.stderr + result.stdout,
        "process stderr": captured.err + captured.out,
        "run.log": logged,
        "outbox last_error": "\n".join(stored),
    }
    for secret in secrets:
        for place, text in places.items():
            assert secret not in text, f"{secret!r} in {place}"
        assert secret.encode() not in state_bytes(home), f"{secret!r} in the state files"
    if failure != "unreachable":
        assert receiver.refused >= 2  # the requests did reach the receiver


def test_mistyped_sink_type_names_the_key_not_the_entry(
    costly, make_config, run_cli, monkeypatch
) -> None:
    monkeypatch.setenv("SLACK_URL", "https://hooks.slack.example/services/T0/B0/SECRETTOKEN")
    config, _ = make_config(notify=[{"type": "stdout"}, {"type": "slak", "url": "${SLACK_URL}"}])
    result = run_cli("evaluate", "--at", at(250), config=config)
    assert result.exit_code == 1
    message = str(result.exception)
    assert "notify[1].type" in message and "one of stdout, file" in message
    assert "SECRETTOKEN" not in message + result.output


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({"type": "webhook", "url": "${SECRET}"}, "url"),
        ({"type": "webhook", "url": "http://h/x", "basic_auth": "${SECRET}"}, "basic_auth"),
        ({"type": "slack", "url": "http://h/x", "colour": "${SECRET}"}, "colour"),
        ({"type": "webhook", "url": "http://h/x", "basic_auth": {"username": "${SECRET}"}},
         "basic_auth needs password"),
        ({"type": "webhook", "url": "http://h/x", "basic_auth": {"password": "${SECRET}"},
          "authorization": {"credentials": "${SECRET}"}}, "basic_auth and authorization"),
        ({"type": "webhook", "url": "http://h/x", "headers": {"Authorization": "${SECRET}"},
          "authorization": {"credentials": "${SECRET}"}}, "headers has Authorization"),
        ({"type": "webhook", "url": "http://user:${SECRET}@h/x",
          "basic_auth": {"password": "${SECRET}"}}, "url has user:password@"),
    ],
)  # fmt: skip
def test_sink_config_errors_name_keys_not_values(tmp_path, monkeypatch, entry, key) -> None:
    monkeypatch.setenv("SECRET", "hunter2hunter2")
    path = tmp_path / "fleetsignals.yml"
    path.write_text(yaml.safe_dump({"notify": [entry]}), encoding="utf-8")
    with pytest.raises(FleetsignalsError) as caught:
        build_sinks(load_config(path)["notify"])
    assert key in str(caught.value) and "notify[0]" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "ingest: {workers: '${SECRET}'}\n",
        "retention: {flag_groups: '${SECRET}'}\n",
        "alerts: {retry_max: '${SECRET}'}\n",
        "scheduler: {build_every: '${SECRET}'}\n",
        'notify: [{type: slack, url: "https://hooks.example/hunter2hunter2" ]]\n',
    ],
)
def test_config_errors_do_not_quote_values(tmp_path, run_process, monkeypatch, text) -> None:
    monkeypatch.setenv("SECRET", "hunter2hunter2")
    path = tmp_path / "fleetsignals.yml"
    path.write_text(text, encoding="utf-8")
    done = run_process("--config", str(path), "evaluate", env={"SECRET": "hunter2hunter2"})
    assert done.returncode == 1 and done.stderr.startswith("error: ")
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "hunter2" not in done.stderr + done.stdout


def test_basic_auth_from_file_and_url_userinfo(costly, make_config, run_cli, receiver, tmp_path):
    password = tmp_path / "password"
    password.write_text("s3cret-from-file\n")
    config, _ = make_config(
        notify=[
            {"type": "webhook", "name": "file", "url": receiver.url,
             "basic_auth": {"username": "fleet", "password_file": str(password)}},
            {"type": "slack", "name": "userinfo",
             "url": receiver.url.replace("http://", "http://ops%40example:p%3Ass@")},
        ]
    )  # fmt: skip
    run_cli("evaluate", "--at", at(250), config=config)
    assert receiver.authorizations == [
        "Basic " + base64.b64encode(b"fleet:s3cret-from-file").decode(),
        "Basic " + base64.b64encode(b"ops@example:p:ss").decode(),
    ]
    assert receiver.paths == ["/hook", "/hook"]  # userinfo is not part of the request


def test_bearer_from_env_and_rotated_file(
    costly, make_config, run_cli, receiver, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "tok-from-env")
    token = tmp_path / "token"
    token.write_text("tok-1")
    config, _ = make_config(
        notify=[
            {"type": "webhook", "name": "env", "url": receiver.url,
             "authorization": {"credentials": "${HOOK_TOKEN}"}},
            {"type": "alertmanager", "name": "file", "url": receiver.url,
             "authorization": {"type": "Token", "credentials_file": str(token)}},
        ]
    )  # fmt: skip
    run_cli("evaluate", "--at", at(250), config=config)
    assert receiver.authorizations == ["Bearer tok-from-env", "Token tok-1"]
    token.write_text("tok-2\n")  # rotated: read at every request, no restart
    run_cli("evaluate", "--at", at(255), config=config)
    assert receiver.authorizations[-1] == "Token tok-2"


@pytest.fixture
def redirector(receiver: Receiver) -> Iterator[str]:
    """A server that answers every POST with 302 to the receiver (a moved webhook)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(302)
            self.send_header("Location", receiver.url)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_redirect_is_not_followed(costly, make_config, run_cli, home, receiver, redirector):
    """urllib would re-send the POST as a bodiless GET (the notification lost) carrying
    the Authorization header to wherever the redirect points."""
    config, _ = make_config(
        notify=[{"type": "webhook", "url": redirector, "headers": {"Authorization": "Bearer t"}}]
    )
    result = run_cli("evaluate", "--at", at(250), config=config)
    assert "HTTP 302" in result.stderr and "redirect" in result.stderr
    assert receiver.gets == [] and receiver.bodies == []
    assert len(last_errors(home)) == 1  # still queued


def test_unreadable_credentials_file_is_a_config_error(tmp_path) -> None:
    entry = {"type": "webhook", "url": "http://h/x",
             "authorization": {"credentials_file": str(tmp_path / "missing")}}  # fmt: skip
    with pytest.raises(FleetsignalsError, match=r"authorization\.credentials_file: cannot read"):
        build_sinks([entry])


def test_address_and_scrub() -> None:
    assert (
        address("https://u:p@Hooks.Example.com:8443/a/b?t=1#f") == "https://hooks.example.com:8443"
    )
    assert address("http://[::1]:9093/api") == "http://[::1]:9093"
    assert address("not a url") == "(invalid URL)"
    text = "HTTP 404 from x: no route /hooks/T0/SECRETTOKEN (see https://u:p@h.example/p?q=1)"
    assert scrub(text, ["/hooks/T0/SECRETTOKEN"]) == (
        "HTTP 404 from x: no route [redacted] (see https://h.example)"
    )
