"""`fleetsignals run`."""

from __future__ import annotations

import logging
import time

import click

from fleetsignals.cli_env import Env, pass_env


def configure_logging(env: Env, file_name: str = "run.log") -> None:
    env.home.logs.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter("%(asctime)sZ %(levelname)s %(name)s: %(message)s")
    formatter.converter = time.gmtime
    handlers: list[logging.Handler] = [
        logging.StreamHandler(),
        logging.FileHandler(env.home.logs / file_name, encoding="utf-8"),
    ]
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    # APScheduler logs every job start and end at INFO, and a skipped run (a job still
    # queued behind a slow one: by design) as a warning; our cycle lines say more.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


@click.command()
@pass_env
def command(env: Env) -> None:
    """Run the scheduler: ingest the inbox, build, evaluate and retain on intervals.

    Ingests new files from the inbox (scheduler.inbox, default HOME/inbox) every
    scheduler.ingest_every (1m), quality label files under its labels/ directory as
    `fleetsignals label` does, everything else as traces; builds the warehouse and evaluates the signals
    that are due every scheduler.build_every (5m). On a home with nothing built
    yet, files are landed as soon as they settle and the first spans are built
    at once; delivers notifications and retries queued
    ones (also at each ingest); retains every scheduler.retain_every (1h). Jobs never
    overlap. With receive.enabled, also serves OTLP/HTTP into the inbox (see
    `fleetsignals receive`). Logs to stderr and HOME/logs/run.log. SIGTERM or Ctrl-C
    finishes the current job and exits; a restart resumes from the state under HOME.
    """
    from fleetsignals.orchestrate.scheduler import run

    config = env.config
    configure_logging(env)
    run(env.home.ensure(), config)
