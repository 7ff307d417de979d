"""The wheel's package list names every package of the tree, under one import name."""

from __future__ import annotations

import tomllib
from pathlib import Path

from fleetsignals.resources import project_dir, shipped_signals

REPO = Path(__file__).resolve().parents[1]


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]


def test_every_package_in_the_tree_is_in_the_wheel() -> None:
    config = _setuptools()
    dirs = {name: REPO / path for name, path in config["package-dir"].items() if path != "."}
    dirs.setdefault("fleetsignals", REPO / "fleetsignals")
    found = set()
    for name, root in dirs.items():
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            found.add(".".join((name, *relative)))
    listed = set(config["packages"]) - {"fleetsignals.project"}
    assert found == listed


def test_only_fleetsignals_is_a_top_level_name() -> None:
    assert {p.split(".")[0] for p in _setuptools()["packages"]} == {"fleetsignals"}


def test_a_checkout_finds_its_own_dbt_project_and_signals() -> None:
    assert project_dir() == REPO
    assert shipped_signals() == REPO / "signals"
    assert (project_dir() / "dbt_project.yml").is_file()


def test_package_data_carries_every_data_file_of_ingest() -> None:
    # Ingest reads its dialects and SQL as package data: a file the globs miss works in a
    # checkout and fails in the installed wheel.
    globs = _setuptools()["package-data"]["fleetsignals.ingest"]
    root = REPO / "ingest"
    data = [p for p in root.rglob("*") if p.is_file() and p.suffix in (".yml", ".sql")]
    assert len(data) >= 11  # ten dialects and the span query at least
    for path in data:
        assert any(path.relative_to(root).match(glob) for glob in globs), path
