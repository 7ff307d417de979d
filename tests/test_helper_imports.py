"""Test helpers come one way: ``from tests.fixtures.<module> import ...`` (tests/README.md).

Not from a ``conftest.py`` (pytest hands fixtures over) and not as a bare module found
because pytest put a test folder on ``sys.path``.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def bare_helper_imports(path: Path, local: set[str]) -> list[str]:
    wrong = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = ["." * node.level + (node.module or "")]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if name.startswith(".") or top == "conftest" or top in local:
                wrong.append(f"{path.name}:{node.lineno} imports {name}")
    return wrong


def test_helpers_are_imported_from_the_fixtures_package() -> None:
    files = sorted(TESTS.rglob("*.py")) + sorted((REPO / "bench").glob("*.py"))
    # Module names a bare import could reach: every file in a test folder.
    local = {p.stem for p in TESTS.rglob("*.py") if p.parent != TESTS / "fixtures"}
    local |= {p.stem for p in (TESTS / "fixtures").glob("*.py")}
    wrong = [w for path in files for w in bare_helper_imports(path, local - {"__init__"})]
    assert wrong == []


def test_a_bare_import_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "probe.py"
    for source, caught in [
        ("from signalfleets import x\n", True),
        ("from .conftest import y\n", True),
        ("import conftest\n", True),
        ("from tests.fixtures.signalfleets import x\n", False),
    ]:
        path.write_text(source, encoding="utf-8")
        assert bool(bare_helper_imports(path, {"signalfleets"})) == caught, source
