"""Where the installed package keeps the dbt project and the shipped signals.

A checkout (an editable install) uses the repository itself: ``dbt_project.yml``,
``models/``, ``macros/``, ``seeds/`` and ``signals/`` at its top level. A wheel carries the
same files under ``fleetsignals/project/`` (see pyproject.toml), so every command works from
any directory without a checkout.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def project_dir() -> Path:
    """The dbt project directory (holds dbt_project.yml and profiles.yml)."""
    shipped = _PACKAGE / "project"
    return shipped if (shipped / "dbt_project.yml").is_file() else _PACKAGE.parent


def shipped_signals() -> Path:
    """The directory of the signals that ship with fleetsignals."""
    return project_dir() / "signals"
