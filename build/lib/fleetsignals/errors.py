"""The one exception type a user sees: its message says what to do."""

from __future__ import annotations


class FleetsignalsError(Exception):
    """An error caused by input or configuration; printed as one line, exit status 1."""
