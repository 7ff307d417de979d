"""The ``alerts:`` config section, parsed once (durations as timedeltas)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.timeutil import parse_duration

# Config errors name the key, never the value (an ${ENV} reference may have put a secret there).
DURATION_HELP = "not a duration: use a number and a unit, e.g. 30s, 5m, 1h, 1h30m"


@dataclass(frozen=True)
class AlertSettings:
    repeat_interval: timedelta
    resolved_retention: timedelta
    query_timeout: float
    send_timeout: float
    retry_initial: timedelta
    retry_max: timedelta
    # After an outage a pending instance waits at least this long before firing.
    for_grace_period: timedelta
    # Most instances one evaluation of a signal may return, 0 for no cap (a signal's
    # `limit` may lower it).
    instance_limit: int
    # Longest gap between evaluations of a signal when scheduled (scheduler.build_every).
    cycle: timedelta

    @classmethod
    def from_config(cls, config: Config) -> AlertSettings:
        section = config["alerts"]

        def duration(key: str) -> timedelta:
            try:
                return parse_duration(section[key])
            except FleetsignalsError:
                raise FleetsignalsError(f"config alerts.{key}: {DURATION_HELP}") from None

        try:
            cycle = parse_duration(config["scheduler"]["build_every"])
        except FleetsignalsError:
            raise FleetsignalsError(f"config scheduler.build_every: {DURATION_HELP}") from None
        return cls(
            repeat_interval=duration("repeat_interval"),
            resolved_retention=duration("resolved_retention"),
            query_timeout=duration("query_timeout").total_seconds(),
            send_timeout=duration("send_timeout").total_seconds(),
            retry_initial=duration("retry_initial"),
            retry_max=duration("retry_max"),
            for_grace_period=duration("for_grace_period"),
            instance_limit=int(section["instance_limit"]),
            cycle=cycle,
        )

    def valid_for(self, every: timedelta) -> timedelta:
        """How long Alertmanager keeps a firing alert without news: 4x the longest gap
        between sends, as Prometheus does (4 x max(resend delay, evaluation interval))."""
        return 4 * max(every, self.cycle, timedelta(minutes=1))
