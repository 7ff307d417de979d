"""The data home: every file fleetsignals writes lives under one directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    """Paths under HOME (``--home``, else ``$FLEETSIGNALS_HOME``, else ``./warehouse``)."""

    root: Path

    @classmethod
    def resolve(cls, given: str | Path | None = None) -> Home:
        chosen = given or os.environ.get("FLEETSIGNALS_HOME") or "warehouse"
        return cls(Path(chosen).resolve())

    @property
    def lake(self) -> Path:
        """Hive-partitioned span Parquet files: lake/spans/dt=YYYY-MM-DD/hr=HH/*.parquet."""
        return self.root / "lake" / "spans"

    @property
    def manifest(self) -> Path:
        """JSON lines, one per landed source file (content hash, path, time, spans)."""
        return self.root / "lake" / "manifest.jsonl"

    @property
    def labels(self) -> Path:
        """Quality labels landed by `fleetsignals label`: lake/labels/dt=YYYY-MM-DD/*.parquet
        (partitioned by the day they landed)."""
        return self.root / "lake" / "labels"

    @property
    def labels_manifest(self) -> Path:
        """JSON lines, one per label file landed or quarantined (as ``manifest``)."""
        return self.root / "lake" / "labels-manifest.jsonl"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def database(self) -> Path:
        """The DuckDB file dbt builds into (single writer)."""
        return self.root / "warehouse.duckdb"

    @property
    def snapshots(self) -> Path:
        """Read-only copies published after each build; readers never touch the writer's file."""
        return self.root / "snapshots"

    @property
    def facts(self) -> Path:
        """Run-level facts kept outside the lake, so pruning spans never loses a run."""
        return self.root / "facts"

    @property
    def alerts(self) -> Path:
        """Alert state and the notification outbox."""
        return self.root / "alerts"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def wrote(self, path: Path) -> bool:
        """Whether ``path`` (resolved) lies where fleetsignals writes landed or quarantined
        data: never input to ingest or label (someone pointing them at HOME)."""
        root = self.root.resolve()
        return path.is_relative_to(root / "lake") or path.is_relative_to(root / "quarantine")

    def ensure(self) -> Home:
        self.root.mkdir(parents=True, exist_ok=True)
        return self
