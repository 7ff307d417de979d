"""IngestSettings: the ingest config parsed once, as AlertSettings does for alerts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fleetsignals.config import load_config
from fleetsignals.contract import DIMENSION_KEYS
from fleetsignals.errors import FleetsignalsError
from fleetsignals.ingest.settings import IngestSettings


def settings(tmp_path: Path, text: str) -> IngestSettings:
    path = tmp_path / "fleetsignals.yml"
    path.write_text(text, encoding="utf-8")
    return IngestSettings.from_config(load_config(path))


def test_defaults_resolve_workers_and_sizes(tmp_path: Path) -> None:
    got = settings(tmp_path, "{}\n")
    assert got.workers == (os.cpu_count() or 1)
    assert got.processes_from_bytes == 64 * (1 << 20)
    assert got.settle_seconds == 0
    assert got.dimension_keys == DIMENSION_KEYS
    assert got.redact == ()


def test_given_values(tmp_path: Path) -> None:
    got = settings(
        tmp_path,
        "redact: [gen_ai.prompt.*]\ningest: {workers: 3, processes_from_mib: 0, settle: 5s}\n",
    )
    assert (got.workers, got.processes_from_bytes, got.settle_seconds) == (3, 0, 5)
    assert got.redact == ("gen_ai.prompt.*",)


def test_a_bad_duration_fails_before_anything_is_read(tmp_path: Path) -> None:
    with pytest.raises(FleetsignalsError):
        settings(tmp_path, "ingest: {settle: soon}\n")
