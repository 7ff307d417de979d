"""What a retain run reports: decisions per reason, partitions rewritten, bytes saved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fleetsignals.retention.policies import KEEP_REASONS, REASONS
from fleetsignals.timeutil import format_time


@dataclass
class Count:
    runs: int = 0
    spans: int = 0
    bytes: int = 0  # of the lake files, shared out per span (see job._span_counts)


@dataclass
class RetentionSummary:
    """What a retain run decided and did (or, with dry_run, would do)."""

    at: datetime
    ready_before: datetime  # runs whose decision window closed by now were decided
    dry_run: bool
    decided: dict[str, Count] = field(default_factory=lambda: {r: Count() for r in REASONS})
    partitions_rewritten: int = 0
    files_before: int = 0
    files_after: int = 0
    bytes_before: int = 0  # of the rewritten partitions
    bytes_after: int = 0  # estimated (kept share of the bytes) in a dry run
    spans_pruned: int = 0
    lake_bytes_before: int = 0
    lake_bytes_after: int = 0
    recovered: int = 0
    notes: list[str] = field(default_factory=list)  # e.g. a signal that failed to evaluate
    # Anomaly runs per signal (or anomaly table) that flagged them (a run may count twice),
    # and sampled runs that belong to a flagged group (sampled at its rate).
    anomaly_by_signal: dict[str, int] = field(default_factory=dict)
    group_sampled: int = 0

    @property
    def bytes_saved(self) -> int:
        return self.bytes_before - self.bytes_after

    def lines(self) -> list[str]:
        verb = "would keep" if self.dry_run else "kept"
        head = "dry run: nothing changed. " if self.dry_run else ""
        out = [
            f"{head}decided runs that ended before {format_time(self.ready_before)} "
            f"(at {format_time(self.at)})",
            f"{'reason':<10} {'runs':>8} {'runs %':>7} {'spans':>10} {'bytes':>10} {'bytes %':>7}",
        ]
        runs = sum(c.runs for c in self.decided.values()) or 1
        size = sum(c.bytes for c in self.decided.values()) or 1
        for reason in REASONS:
            c = self.decided[reason]
            out.append(
                f"{reason:<10} {c.runs:>8} {100 * c.runs / runs:>7.1f} {c.spans:>10} "
                f"{_mib(c.bytes):>10} {100 * c.bytes / size:>7.1f}"
            )
        kept = sum(self.decided[r].runs for r in KEEP_REASONS)
        kept_bytes = sum(self.decided[r].bytes for r in KEEP_REASONS)
        total = kept + self.decided["pruned"].runs
        out.append(
            f"{verb} the spans of {kept} of {total} newly decided runs "
            f"({100 * kept / runs:.1f} %) and {100 * kept_bytes / size:.1f} % of their span bytes"
        )
        if self.anomaly_by_signal:
            by = ", ".join(f"{k} {v}" for k, v in self.anomaly_by_signal.items())
            out.append(f"anomaly runs by what flagged them: {by}")
        if self.group_sampled:
            out.append(
                f"sampled runs of flagged groups (at their group rate): {self.group_sampled}"
            )
        estimate = "~" if self.dry_run else ""
        out.append(
            f"partitions rewritten: {self.partitions_rewritten} "
            f"({self.files_before} files -> {self.files_after}), "
            f"spans pruned: {self.spans_pruned}, bytes saved: {estimate}{self.bytes_saved:,} "
            f"({_mib(self.bytes_before)} -> {estimate}{_mib(self.bytes_after)})"
        )
        out.append(
            f"lake: {_mib(self.lake_bytes_before)} -> {estimate}{_mib(self.lake_bytes_after)}"
        )
        out += [f"note: {note}" for note in self.notes]
        if self.recovered:
            out.append(f"recovered {self.recovered} interrupted partition rewrite(s)")
        return out


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"
