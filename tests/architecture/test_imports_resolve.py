"""Every import of a dockyard module names something that exists, lazy imports and
TYPE_CHECKING ones included: the import contract skips what it cannot find, and a
function-level import of a moved module only fails when that function runs."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.clirunner import REPO


def _module_path(dotted: str) -> Path | None:
    path = REPO.joinpath(*dotted.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


@cache
def _top_level_names(path: Path) -> frozenset[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


def unresolved_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "dockyard" and _module_path(alias.name) is None:
                    found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "dockyard":
                continue
            module = _module_path(node.module)
            if module is None:
                found.append(f"{node.lineno}: from {node.module}")
                continue
            for alias in node.names:
                name = alias.name
                names = _top_level_names(module)
                if "__getattr__" in names:  # the module makes names on demand
                    continue
                if _module_path(f"{node.module}.{name}") is None and name not in names:
                    found.append(f"{node.lineno}: from {node.module} import {name}")
    return found


def test_every_dockyard_import_resolves() -> None:
    problems = []
    for folder in ("dockyard", "tests", "bench"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for problem in unresolved_imports(path.read_text()):
                problems.append(f"{path.relative_to(REPO)}:{problem}")
    assert problems == []


def test_the_check_sees_a_moved_module() -> None:
    source = (
        "def f():\n"
        "    from dockyard.cli.humanize import human_size\n"  # moved to dockyard.humanize
        "    from dockyard.humanize import no_such_name\n"
        "    from dockyard.humanize import human_size\n"
    )
    assert unresolved_imports(source) == [
        "2: from dockyard.cli.humanize",
        "3: from dockyard.humanize import no_such_name",
    ]
