"""The import rule of docs/architecture.md, checked on the source: imports only go down.

demo → agent → tools → vectorstore, and evals → agent/tools/vectorstore; nothing imports
``tests`` (shipped code must run outside a checkout). Every ``import`` and ``from … import``
counts, including ones inside functions, because a lazy import still ties the layers together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Which project packages each package may import (besides itself).
ALLOWED = {
    "vectorstore": set(),
    "tools": {"vectorstore"},
    "agent": {"tools", "vectorstore"},
    "evals": {"agent", "tools", "vectorstore"},
    "demo": {"agent", "tools", "vectorstore"},
}
PROJECT = {*ALLOWED, "tests"}


def imported_packages(source: str) -> set[str]:
    """The top-level project packages a module's source imports (relative imports stay inside
    the package, so they never cross a layer)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & PROJECT
    return found


def violations(package: str) -> list[str]:
    """``file: imports X`` for every import of a package ``package`` may not use."""
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        for imported in sorted(imported_packages(path.read_text(encoding="utf-8"))):
            if imported != package and imported not in ALLOWED[package]:
                found.append(f"{path.relative_to(REPO)}: imports {imported}")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_only_go_down(package: str) -> None:
    assert violations(package) == []


def test_the_walk_sees_lazy_and_dotted_imports() -> None:
    source = "import os\nfrom evals.runner import x\n\ndef f():\n    import tests.audio_fixtures\n"
    assert imported_packages(source) == {"evals", "tests"}
    assert imported_packages("from . import cards\nfrom .store import open_catalog\n") == set()
