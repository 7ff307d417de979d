"""The OTLP/HTTP server: ``POST /v1/traces``, answers as the OTLP/HTTP specification says.

Standard library ``ThreadingHTTPServer``, one thread per connection, HTTP/1.1
keep-alive (the SDK exporters reuse connections). Stopping finishes requests in
flight (their files are written and answered), closes idle connections, and
joins every handler thread.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.receive import otlp
from fleetsignals.receive.inbox import Inbox, InboxFull, Limits, sweep_temporaries
from fleetsignals.secrets import Secret, SecretUnreadable, secret_option
from fleetsignals.timeutil import parse_duration

log = logging.getLogger("fleetsignals.receive")

PATH = "/v1/traces"
INBOX_SUBDIR = "otlp-http"  # the receiver's files, apart from what others drop in the inbox
DRAIN_MAX = 64 << 20  # a refused body up to this size is read, so the client sees the answer
READ_TIMEOUT = 10.0  # seconds a connection may stay silent (idle keep-alive, or a stalled body)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:4318`` for IPv6) -> (host, port)."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise FleetsignalsError(f"listen address {text!r}: expected HOST:PORT, e.g. 127.0.0.1:4318")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class ReceiveSettings:
    host: str
    port: int
    inbox: Path
    max_body: int
    max_in_flight: int
    retry_after: int
    limits: Limits
    token: Secret | None = None  # the bearer token senders must present, if any

    @classmethod
    def from_config(cls, home: Home, config: Config, listen: str | None = None) -> ReceiveSettings:
        section = config["receive"]
        host, port = parse_listen(listen or section["listen"])
        inbox = config["scheduler"]["inbox"]
        try:
            retry_after = parse_duration(section["retry_after"]).total_seconds()
        except FleetsignalsError as exc:
            raise FleetsignalsError(f"config receive.retry_after: {exc}") from None
        mib = 1 << 20
        keep = section["delete_landed_after"]
        if keep is not None:
            try:
                keep = parse_duration(keep).total_seconds()
            except FleetsignalsError as exc:
                raise FleetsignalsError(f"config receive.delete_landed_after: {exc}") from None
        for key in ("max_body_mib", "max_in_flight"):
            if section[key] <= 0:
                raise FleetsignalsError(f"config receive.{key} must be above 0")
        return cls(
            host=host,
            port=port,
            inbox=(Path(inbox) if inbox else home.inbox) / INBOX_SUBDIR,
            max_body=int(section["max_body_mib"] * mib),
            max_in_flight=int(section["max_in_flight"]),
            retry_after=max(1, round(retry_after)),
            limits=Limits(
                max_files=int(section["max_backlog_files"]),
                max_bytes=int(section["max_backlog_mib"] * mib),
                min_free_bytes=int(section["min_free_mib"] * mib),
                delete_landed_after=keep,
            ),
            token=_token(section.get("authorization")),
        )


def _token(section: object) -> Secret | None:
    """receive.authorization: {credentials | credentials_file}, a bearer token, or null."""
    if section is None:
        return None
    where = "config receive.authorization"
    if not isinstance(section, dict):
        raise FleetsignalsError(f"{where} must be a mapping: {{credentials_file: PATH}}")
    unknown = sorted(set(section) - {"type", "credentials", "credentials_file"})
    if unknown or str(section.get("type", "Bearer")).lower() != "bearer":
        raise FleetsignalsError(
            f"{where}: takes type (Bearer only), credentials or credentials_file"
        )
    try:
        token = secret_option(section, "credentials", where)
    except ValueError as exc:
        raise FleetsignalsError(str(exc)) from None
    if token is None:
        raise FleetsignalsError(f"{where} needs credentials or credentials_file")
    return token


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close joins handler threads: requests in flight finish
    block_on_close = True

    def __init__(self, settings: ReceiveSettings, inbox: Inbox):
        self.settings = settings
        self.inbox = inbox
        self.stopping = threading.Event()
        self.handlers: set[_Handler] = set()
        self.handlers_lock = threading.Lock()
        # Bodies in memory at once: each may take several times max_body while converted.
        self.slots = threading.BoundedSemaphore(settings.max_in_flight)
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        self.address_family = family
        super().__init__((settings.host, settings.port), _Handler)

    def close_idle(self) -> None:
        """Wake handler threads waiting for a next request on a kept-alive connection."""
        with self.handlers_lock:
            idle = [h for h in self.handlers if not h.busy]
        for handler in idle:
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT
    server_version = "fleetsignals-receive"
    busy = False

    def setup(self) -> None:
        super().setup()
        with self.server.handlers_lock:
            self.server.handlers.add(self)

    def finish(self) -> None:
        with self.server.handlers_lock:
            self.server.handlers.discard(self)
        super().finish()

    def handle_one_request(self) -> None:
        self.busy = False
        if self.server.stopping.is_set():
            self.close_connection = True
            return
        super().handle_one_request()
        self.busy = False

    def parse_request(self) -> bool:
        self.busy = True  # the request line is in: this request is answered before stopping
        return super().parse_request()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        log.debug("%s %s", self.address_string(), format % args)

    # -- answers ---------------------------------------------------------------------------

    def _answer(self, code: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection or self.server.stopping.is_set():
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, code: int, grpc: int, message: str, content_type: str, **headers) -> None:
        kind = content_type if content_type in otlp.ENCODINGS else otlp.JSON
        body = otlp.status(grpc, message, kind)
        log.log(logging.INFO if code in (429, 503) else logging.WARNING, "%d: %s", code, message)
        self._answer(code, body, kind, headers)

    def handle_expect_100(self) -> bool:
        return True  # `100 Continue` is sent by do_POST, once it has decided to read the body

    def _expects_continue(self) -> bool:
        return self.headers.get("Expect", "").lower() == "100-continue"

    def _drain(self, length: int) -> None:
        """Read and drop a body we refuse, so the client reads our answer; a huge one: hang up."""
        if self._expects_continue():  # the client waits for our answer before sending it
            self.close_connection = True
            return
        if length > DRAIN_MAX:
            self.close_connection = True
            return
        while length > 0:
            block = self.rfile.read(min(length, 1 << 20))
            if not block:
                self.close_connection = True
                return
            length -= len(block)

    # -- methods ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._refuse(405, otlp.INVALID_ARGUMENT, f"use POST {PATH}", otlp.JSON, Allow="POST")

    def do_PUT(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        settings = self.server.settings
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.strip().isdigit():
            self.close_connection = True
            self._refuse(411, otlp.INVALID_ARGUMENT, "a Content-Length is required", content_type)
            return
        length = int(length_text)
        if not self._authorized():
            self._drain(length)
            message = "missing or wrong bearer token (receive.authorization)"
            self._refuse(
                401,
                otlp.UNAUTHENTICATED,
                message,
                content_type,
                **{"WWW-Authenticate": 'Bearer realm="fleetsignals"'},
            )
            return
        if self.path.split("?")[0] != PATH:
            self._drain(length)
            self._refuse(404, otlp.INVALID_ARGUMENT, f"not found: only POST {PATH}", content_type)
            return
        if content_type not in otlp.ENCODINGS:
            self._drain(length)
            message = (
                f"unsupported Content-Type {content_type!r}: use {' or '.join(otlp.ENCODINGS)}"
            )
            self._refuse(415, otlp.INVALID_ARGUMENT, message, content_type)
            return
        encoding = self.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", ""):
            self._drain(length)
            message = f"unsupported Content-Encoding {encoding!r}: use gzip or none"
            self._refuse(415, otlp.INVALID_ARGUMENT, message, content_type)
            return
        if length > settings.max_body:
            self._drain(length)
            message = f"body of {length} bytes is larger than receive.max_body_mib allows ({settings.max_body})"
            self._refuse(413, otlp.RESOURCE_EXHAUSTED, message, content_type)
            return
        retry = {"Retry-After": str(settings.retry_after)}
        if self.server.stopping.is_set():
            self._drain(length)
            self._refuse(503, otlp.UNAVAILABLE, "the receiver is stopping", content_type, **retry)
            return
        try:
            self.server.inbox.check(length)
        except InboxFull as exc:
            self._drain(length)
            self._refuse(
                exc.status,
                otlp.UNAVAILABLE if exc.status == 503 else otlp.RESOURCE_EXHAUSTED,
                str(exc),
                content_type,
                **retry,
            )
            return
        if not self.server.slots.acquire(blocking=False):
            self._drain(length)
            message = f"{settings.max_in_flight} requests in flight (receive.max_in_flight)"
            self._refuse(503, otlp.UNAVAILABLE, message, content_type, **retry)
            return
        reply = None
        try:
            if self._expects_continue():
                self.send_response_only(100)
                self.end_headers()
            body = self.rfile.read(length)
            if len(body) < length:
                self.close_connection = True  # the client went away mid-body: nothing to answer
                return
            reply = self._accept(body, content_type, encoding, retry)
        finally:
            self.server.slots.release()
        reply()  # once the slot is free: a client's next request after this answer finds it so

    def _authorized(self) -> bool:
        token = self.server.settings.token
        if token is None:
            return True
        try:
            expected = token.read()
        except SecretUnreadable as exc:
            log.error("receive.authorization: %s; refusing every request", exc)
            return False
        scheme, _, given = self.headers.get("Authorization", "").strip().partition(" ")
        return (
            bool(expected)
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), expected.encode())
        )

    def _accept(
        self, body: bytes, content_type: str, encoding: str, retry: dict
    ) -> Callable[[], None]:
        """Decode and write a request; returns the answer to send."""
        settings = self.server.settings
        try:
            if encoding == "gzip":
                body = otlp.gunzip(body, settings.max_body)
            decoded = otlp.decode(body, content_type)
        except otlp.TooLarge as exc:
            return partial(self._refuse, 413, otlp.RESOURCE_EXHAUSTED, str(exc), content_type)
        except otlp.BadRequest as exc:
            return partial(self._refuse, 400, otlp.INVALID_ARGUMENT, str(exc), content_type)
        if decoded.message is not None:
            try:
                self.server.inbox.add(orjson.dumps(decoded.message) + b"\n")
            except InboxFull as exc:
                return partial(
                    self._refuse, exc.status, otlp.UNAVAILABLE, str(exc), content_type, **retry
                )
        if decoded.rejected:
            log.warning("partial success: %s", decoded.error)
        return partial(self._answer, 200, otlp.success(decoded, content_type), content_type)


class Receiver:
    """A running receiver: ``start()`` serves on a background thread, ``stop()`` drains it."""

    def __init__(self, home: Home, config: Config, listen: str | None = None):
        self.settings = ReceiveSettings.from_config(home, config, listen)
        inbox = Inbox(self.settings.inbox, home.manifest, self.settings.limits)
        sweep_temporaries(inbox.directory)
        try:
            self.server = _Server(self.settings, inbox)
        except OSError as exc:
            raise FleetsignalsError(
                f"cannot listen on {self.settings.host}:{self.settings.port}: {exc.strerror}"
                " (is another receiver or Collector running there? use --listen HOST:PORT)"
            ) from None
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="receive", daemon=True
        )

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def start(self) -> Receiver:
        self.thread.start()
        if self.settings.token is None and not is_loopback(self.settings.host):
            log.warning(
                "receive: listening on %s without authentication: anyone who can reach it can"
                " write traces (set receive.authorization, docs/receive.md)",
                self.address,
            )
        log.info(
            "receive: listening on http://%s%s, writing to %s",
            self.address,
            PATH,
            self.settings.inbox,
        )
        return self

    def stop(self) -> None:
        """Stop accepting, finish requests in flight, close idle connections, join threads."""
        self.server.stopping.set()
        self.server.shutdown()  # the accept loop ends
        self.server.close_idle()
        self.server.server_close()  # joins the handler threads (block_on_close)
        log.info("receive: stopped")


def serve(home: Home, config: Config, listen: str | None = None) -> None:
    """Run a receiver in the foreground until SIGTERM or SIGINT."""
    receiver = Receiver(home, config, listen)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info(
            "%s received: finishing requests in flight, then stopping", signal.Signals(signum).name
        )
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    receiver.start()
    while not stop.wait(0.5):  # a short wait keeps the main thread responsive to signals
        pass
    receiver.stop()
