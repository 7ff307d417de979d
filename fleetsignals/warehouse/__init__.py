"""The warehouse: dbt build runner, read-only snapshot publishing, run-facts archive.

- ``build(home, config, full_refresh=False, progress=False, engine=None)`` runs the
  dbt project at the repository root and publishes a snapshot (``HOME/snapshots``).
- ``archive_run_facts(home, run_ids)`` copies the facts of runs into ``HOME/facts`` so
  their spans can be pruned; ``write_retention_decisions`` records retention's verdicts.
See docs/warehouse.md.
"""

from __future__ import annotations

from fleetsignals.warehouse.archive import archive_run_facts, write_retention_decisions
from fleetsignals.warehouse.runner import BuildSummary, build

__all__ = ["BuildSummary", "archive_run_facts", "build", "write_retention_decisions"]
