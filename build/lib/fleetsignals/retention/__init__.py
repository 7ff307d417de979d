"""Retention: tail-based sampling of stored traces (docs/retention.md).

``retain(home, config, at, dry_run=False) -> RetentionSummary`` is what the
``retain`` command and the scheduler call.
"""

from __future__ import annotations

from fleetsignals.retention.job import retain
from fleetsignals.retention.summary import RetentionSummary

__all__ = ["RetentionSummary", "retain"]
