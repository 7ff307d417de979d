"""The config ingest reads (``ingest:``, ``redact:``, ``dimensions:``), parsed once."""

from __future__ import annotations

import os
from dataclasses import dataclass

from fleetsignals.config import Config
from fleetsignals.ingest.limits import Limits
from fleetsignals.ingest.vocabulary import Vocabulary, load_vocabulary
from fleetsignals.timeutil import parse_duration


@dataclass(frozen=True)
class IngestSettings:
    # Parsing threads and worker processes (config 0: one per core, resolved here).
    workers: int
    # Files at least this big (bytes, on disk) are parsed by the worker processes.
    processes_from_bytes: float
    # Files modified more recently than this are left for a later run.
    settle_seconds: float
    limits: Limits
    # Dimension -> attribute keys (the contract's defaults after the config's own).
    dimension_keys: dict[str, list[str]]
    redact: tuple[str, ...]
    # The attribute vocabularies: the config's ingest.dialects, then the shipped ones.
    vocabulary: Vocabulary

    @classmethod
    def from_config(cls, config: Config) -> IngestSettings:
        section = config["ingest"]
        return cls(
            workers=int(section["workers"]) or os.cpu_count() or 1,
            processes_from_bytes=float(section["processes_from_mib"]) * (1 << 20),
            settle_seconds=parse_duration(section["settle"]).total_seconds(),
            limits=Limits.from_config(section),
            dimension_keys=config.dimension_keys,
            redact=tuple(config["redact"]),
            vocabulary=config_vocabulary(config),
        )


def config_vocabulary(config: Config) -> Vocabulary:
    """The attribute vocabulary of a config: its ingest.dialects, then the shipped dialects,
    with its dimension keys. Build derives the dimensions with the same keys."""
    return load_vocabulary(
        config["ingest"]["dialects"],
        config.dimension_keys,
        str(config.path or "config"),
        config.path.parent if config.path else None,
    )
