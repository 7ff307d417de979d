"""`fleetsignals receive`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.commands.run import configure_logging


@click.command()
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Address to listen on. [config receive.listen; default 127.0.0.1:4318]",
)
@pass_env
def command(env: Env, listen: str | None) -> None:
    """Receive traces over OTLP/HTTP and write them to the inbox for the scheduler to ingest.

    Serves POST /v1/traces with application/x-protobuf or application/json bodies,
    optionally gzip-compressed, as the OpenTelemetry SDKs and the Collector's
    otlphttp exporter send them (point them at http://HOST:PORT). Each accepted
    request is written durably to the inbox (scheduler.inbox, default HOME/inbox,
    under otlp-http/) as one OTLP/JSON file before it is answered 200; `fleetsignals
    run` (or `fleetsignals ingest`) lands it in the lake. Answers 400 for an
    unreadable body, 413 above receive.max_body_mib, 415 for another content type,
    and 429/503 with Retry-After while the inbox backlog or the disk is over its
    limits (receive.* in the config). SIGTERM or Ctrl-C finishes the requests in
    flight and exits 0. `fleetsignals run` starts it too when receive.enabled is true.
    """
    from fleetsignals.receive.server import serve

    config = env.config
    configure_logging(env, "receive.log")
    serve(env.home.ensure(), config, listen)
