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
