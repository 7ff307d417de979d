"""Data flows one way: no stage imports a stage that comes after it.

Every Python module belongs to a layer; a module may import modules of its own layer
and of earlier ones, never of a later one. Imports are read with ``ast`` (also the ones
inside functions), so a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Source folder -> the package name it installs as (pyproject.toml's package-dir).
ROOTS = {
    "fleetsignals": "fleetsignals",
    "ingest": "fleetsignals.ingest",
    "alerts": "fleetsignals.alerts",
}

# In the order data flows; the entries of one tuple are one layer.
LAYERS: list[tuple[str, ...]] = [
    # Shared by every stage: config, home, files, SQL quoting, snapshots and the sandbox.
    (
        "fleetsignals",
        "fleetsignals.cells",
        "fleetsignals.config",
        "fleetsignals.contract",
        "fleetsignals.errors",
        "fleetsignals.files",
        "fleetsignals.home",
        "fleetsignals.resources",
        "fleetsignals.secrets",
        "fleetsignals.sandbox",
        "fleetsignals.snapshot",
        "fleetsignals.sqltext",
        "fleetsignals.timeutil",
    ),
    ("fleetsignals.generate",),  # synthetic OTLP files: what ingest reads
    # receive is ingest's front door; labels land like spans, with ingest's helpers
    ("fleetsignals.ingest", "fleetsignals.receive", "fleetsignals.labels"),
    ("fleetsignals.warehouse", "fleetsignals.fingerprints"),  # dbt models and snapshots
    ("fleetsignals.alerts",),  # signals, alert state, outbox, sinks
    ("fleetsignals.retention",),
    ("fleetsignals.report",),
    ("fleetsignals.orchestrate",),  # the scheduler and the demo call the stages
    ("fleetsignals.cli", "fleetsignals.cli_env", "fleetsignals.commands"),
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """The layer entry a module belongs to: its longest listed prefix (the bare package
    ``fleetsignals`` only itself, so a new package must be placed in a layer)."""
    if module == "fleetsignals":
        return module
    parts = module.split(".")
    for size in range(len(parts), 1, -1):
        name = ".".join(parts[:size])
        if name in RANK:
            return name
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}")


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in ROOTS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def imported(path: Path, module: str) -> set[str]:
    """The fleetsignals modules a file imports, relative imports resolved."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            names.add(base)
    return {n for n in names if n == "fleetsignals" or n.startswith("fleetsignals.")}


def backward_imports(found: dict[str, Path]) -> list[str]:
    wrong = []
    for module, path in found.items():
        mine = unit_of(module)
        for name in sorted(imported(path, module)):
            theirs = unit_of(name)
            if RANK[theirs] > RANK[mine]:
                wrong.append(f"{module} imports {name}: {mine} comes before {theirs}")
    return wrong


def test_no_stage_imports_a_later_stage() -> None:
    assert backward_imports(modules()) == []


def test_every_module_is_in_a_layer() -> None:
    for module in modules():
        unit_of(module)


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from fleetsignals.retention import retain\n", "fleetsignals.alerts.engine", True),
        ("def f():\n    import fleetsignals.report.page\n", "fleetsignals.ingest.land", True),
        ("from fleetsignals.alerts import state\n", "fleetsignals.retention.flags", False),
        ("from ..report import page\n", "fleetsignals.retention.flags", True),
    ],
)
def test_a_backward_import_is_caught(
    source: str, module: str, expected: bool, tmp_path: Path
) -> None:
    path = tmp_path / "module.py"
    path.write_text(source, encoding="utf-8")
    assert bool(backward_imports({module: path})) == expected
