"""`fleetsignals run`: ingest the inbox, build, evaluate and retain on intervals (APScheduler).

Orchestration sits here, above the stages it calls (ingest, warehouse, alerts, retention):
no stage imports another that comes after it.

Every job runs on ONE worker thread, each with ``max_instances=1`` and
``coalesce=True``: jobs never overlap, and a slow build delays the next cycle
instead of stacking runs behind it. All state lives on disk (lake manifest,
warehouse, alert state and outbox), so a restart resumes where the last run
stopped. SIGTERM or SIGINT stops cleanly: the job in progress finishes (its
remaining stages are skipped), nothing new starts; a second signal exits at
once, which is also safe since every stage commits atomically.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.alerts.outbox import deliver
from fleetsignals.alerts.settings import DURATION_HELP, AlertSettings
from fleetsignals.alerts.sinks import build_sinks
from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.ingest.settings import IngestSettings
from fleetsignals.labels.land import land_label_paths
from fleetsignals.receive.server import Receiver
from fleetsignals.retention import retain
from fleetsignals.timeutil import parse_duration, parse_time
from fleetsignals.warehouse import build
from fleetsignals.warehouse.runner import lake_has_spans

log = logging.getLogger("fleetsignals.run")

LABELS_SUBDIR = "labels"  # inbox/labels/: quality label files (CSV, JSON lines), not traces


@dataclass(frozen=True)
class SchedulerSettings:
    inbox: Path
    ingest_every: timedelta
    build_every: timedelta
    retain_every: timedelta
    # A file modified more recently than this may still be being written.
    settle: timedelta

    @classmethod
    def from_config(cls, home: Home, config: Config) -> SchedulerSettings:
        section = config["scheduler"]

        def duration(key: str) -> timedelta:
            try:
                value = parse_duration(section[key])
            except FleetsignalsError:
                raise FleetsignalsError(f"config scheduler.{key}: {DURATION_HELP}") from None
            if value <= timedelta(0) and key != "settle":
                raise FleetsignalsError(f"config scheduler.{key} must be a positive duration")
            return value

        return cls(
            inbox=Path(section["inbox"]) if section["inbox"] else home.inbox,
            ingest_every=duration("ingest_every"),
            build_every=duration("build_every"),
            retain_every=duration("retain_every"),
            settle=max(duration("settle"), parse_duration(config["ingest"]["settle"])),
        )


class Runner:
    """The jobs and their shared bookkeeping."""

    def __init__(self, home: Home, config: Config) -> None:
        self.home = home
        self.config = config
        self.settings = SchedulerSettings.from_config(home, config)
        # Parsed now so a bad ingest config (a malformed dialect) stops `run` at start, not
        # at its first ingest.
        IngestSettings.from_config(config)
        self.alert_settings = AlertSettings.from_config(config)
        self.sinks = build_sinks(config["notify"], self.alert_settings.send_timeout)
        self.stopping = threading.Event()
        # path -> (size, mtime_ns) already handed to ingest, so unchanged files are not
        # re-read every minute (landing is idempotent anyway, by content hash).
        self.landed: dict[Path, tuple[int, int]] = {}
        # Asks the scheduler to run a job ("ingest", "cycle") after a delay, if that is
        # sooner than its next run; ``run`` sets it, tests may record the requests.
        self.wake: Callable[[str, timedelta], None] = lambda _job, _delay: None
        # Files seen in the inbox that had not settled yet at the last look.
        self.unsettled = 0

    def inbox_files(self) -> list[Path]:
        """Settled, non-hidden files in the inbox that changed since we last landed them.

        Files still settling are counted in ``unsettled``. On a home with nothing built
        yet, ingest is woken as soon as the first of them will have settled instead of
        waiting for the next ingest_every; afterwards not (an inbox that `receive` keeps
        writing to always holds a settling file, and ingest_every is the operator's pace).
        """
        self.unsettled = 0
        if not self.settings.inbox.is_dir():
            return []
        now = time.time()
        cutoff = now - self.settings.settle.total_seconds()
        first_settles: float | None = None
        found = []
        for path in sorted(self.settings.inbox.rglob("*")):
            if any(part.startswith(".") for part in path.relative_to(self.settings.inbox).parts):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if not path.is_file() or path.suffix in (".tmp", ".part"):
                continue
            if stat.st_mtime > cutoff:
                self.unsettled += 1
                settles = stat.st_mtime - cutoff
                first_settles = settles if first_settles is None else min(first_settles, settles)
                continue
            if self.landed.get(path) != (stat.st_size, stat.st_mtime_ns):
                found.append(path)
        if first_settles is not None and not self.has_snapshot():
            # A little after it settles: the file's mtime has a coarse resolution on some
            # file systems.
            self.wake("ingest", timedelta(seconds=first_settles + 0.2))
        return found

    def has_snapshot(self) -> bool:
        return (self.home.snapshots / "CURRENT").exists()

    def ingest(self) -> None:
        if self.stopping.is_set():
            return
        files = self.inbox_files()
        if not files:
            log.debug("ingest: no new files in %s", self.settings.inbox)
            self.retry_deliveries(quiet=True)
            return
        started = time.perf_counter()
        label_dir = self.settings.inbox / LABELS_SUBDIR
        label_files = [p for p in files if p.is_relative_to(label_dir)]
        trace_files = [p for p in files if not p.is_relative_to(label_dir)]
        # Already filtered by settle time; land them all.
        summary = land_paths(trace_files, self.home, self.config, progress=False, settle_seconds=0)
        labels = land_label_paths(label_files, self.home, self.config) if label_files else None
        # Remember what landed, unless some file changed while it was read (which one is
        # not reported): then all are offered again, and landing skips what it already has.
        for path in label_files + (trace_files if not summary.unsettled else []):
            try:
                stat = path.stat()
                self.landed[path] = (stat.st_size, stat.st_mtime_ns)
            except FileNotFoundError:
                pass
        if trace_files:
            log.info(
                "ingest: %d files, %d skipped, %d spans landed, %d quarantined in %.1fs",
                summary.files,
                summary.skipped,
                summary.spans,
                summary.quarantined,
                time.perf_counter() - started,
            )
        if labels is not None:
            log.info("ingest: %s", labels.line())
            for reason in labels.reasons:
                log.warning("ingest: label rows quarantined, see %s", reason)
        if summary.spans and not self.has_snapshot():
            # No snapshot yet: every `sql` says "run fleetsignals build" until one exists,
            # so the first build runs now rather than at the next build_every.
            log.info("ingest: first spans landed and nothing is built yet: building now")
            self.wake("cycle", timedelta(0))
        self.retry_deliveries(quiet=True)

    def cycle(self) -> None:
        """Build, then evaluate due signals and deliver notifications."""
        if self.stopping.is_set():
            return
        if not lake_has_spans(self.home):
            # Nothing to build yet is the normal start of a new home, not an error.
            waiting = f"; {self.unsettled} inbox files settling" if self.unsettled else ""
            log.info(
                "cycle: the lake has no spans yet%s: the first build follows the first "
                "ingest that lands spans",
                waiting,
            )
            self.retry_deliveries(quiet=True)
            return
        started = time.perf_counter()
        try:
            build(self.home, self.config, full_refresh=False, progress=False)
        except Exception as exc:
            # Evaluating a stale snapshot at "now" would see missing data as healthy and
            # resolve alerts falsely, so this cycle only retries deliveries.
            if isinstance(exc, FleetsignalsError):
                log.error("build failed: %s; skipping this cycle's evaluation", exc)
            else:
                log.exception("build failed; skipping this cycle's evaluation")
            self.retry_deliveries()
            return
        built = time.perf_counter()
        if self.stopping.is_set():
            log.info("cycle: build %.1fs; stopping before evaluation", built - started)
            return
        outcome = evaluate_live(self.home, self.config, due_only=True)
        done = time.perf_counter()
        states: dict[str, int] = {}
        for record in outcome.records:
            states[record["state"]] = states.get(record["state"], 0) + 1
        delivery = outcome.delivery
        log.info(
            "cycle: build %.1fs, evaluate %.1fs (%d signals, %d pending, %d firing, "
            "%d notifications, %d failed signals); delivered %d, queued %d",
            built - started,
            done - built,
            len(outcome.evaluated),
            states.get("pending", 0),
            states.get("firing", 0),
            outcome.notices,
            len(outcome.problems),
            delivery.delivered if delivery else 0,
            delivery.pending if delivery else 0,
        )
        for problem in outcome.problems:
            log.error("signal failed: %s", problem)
        if done - started > self.settings.build_every.total_seconds():
            log.warning(
                "cycle took %.1fs, longer than scheduler.build_every (%s): cycles run back "
                "to back, each one later than scheduled",
                done - started,
                self.settings.build_every,
            )

    def retry_deliveries(self, quiet: bool = False) -> None:
        """Send due queued notifications; ``quiet``: log only when something happened
        (the ingest job calls it every ingest_every, so a backoff of seconds is honoured
        within a minute, not at the next build)."""
        if self.sinks:
            report = deliver(
                self.home,
                self.sinks,
                self.alert_settings.retry_initial,
                self.alert_settings.retry_max,
            )
            if not quiet or report.delivered or report.failed or report.dead:
                log.info("outbox: delivered %d, queued %d", report.delivered, report.pending)

    def retain(self) -> None:
        if self.stopping.is_set():
            return
        started = time.perf_counter()
        summary = retain(self.home, self.config, parse_time("now"))
        log.info("retain: %.1fs: %s", time.perf_counter() - started, "; ".join(summary.lines()))

    def guarded(self, name: str, job) -> None:
        """Run a job; an error is logged and the scheduler carries on with the next one."""
        try:
            job()
        except FleetsignalsError as exc:
            log.error("%s failed: %s", name, exc)
        except Exception:
            log.exception("%s failed", name)


def run(home: Home, config: Config) -> None:
    """Run until SIGTERM or SIGINT."""
    runner = Runner(home, config)
    settings = runner.settings
    settings.inbox.mkdir(parents=True, exist_ok=True)
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        timezone="UTC",
    )
    now = datetime.now().astimezone()
    jobs = [
        ("ingest", runner.ingest, settings.ingest_every, timedelta(0)),
        ("cycle", runner.cycle, settings.build_every, timedelta(seconds=0.5)),
        ("retain", runner.retain, settings.retain_every, settings.retain_every),
    ]
    for name, job, every, delay in jobs:
        scheduler.add_job(
            runner.guarded,
            "interval",
            args=(name, job),
            seconds=every.total_seconds(),
            next_run_time=now + delay,
            id=name,
            name=name,
        )

    def wake(job_id: str, delay: timedelta) -> None:
        """Run the job after ``delay`` if that is sooner than its next run."""
        job = scheduler.get_job(job_id)
        target = datetime.now().astimezone() + delay
        if job is not None and (job.next_run_time is None or target < job.next_run_time):
            scheduler.modify_job(job_id, next_run_time=target)

    runner.wake = wake
    stop_requests = []

    def request_stop(signum: int, _frame) -> None:
        stop_requests.append(signum)
        if len(stop_requests) > 1:
            log.warning("second stop signal: exiting now")
            os._exit(1)
        log.info(
            "%s received: finishing the current job, then stopping", signal.Signals(signum).name
        )
        runner.stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info(
        "fleetsignals run: home %s, inbox %s; ingest every %s, build+evaluate every %s, "
        "retain every %s",
        home.root,
        settings.inbox,
        settings.ingest_every,
        settings.build_every,
        settings.retain_every,
    )
    receiver = None
    if config["receive"]["enabled"]:  # OTLP/HTTP into the inbox (fleetsignals/receive/)
        receiver = Receiver(home, config).start()
    scheduler.start()
    try:
        while not runner.stopping.wait(0.5):
            pass
    finally:
        if receiver is not None:
            receiver.stop()
        scheduler.shutdown(wait=True)
    log.info("stopped cleanly")
