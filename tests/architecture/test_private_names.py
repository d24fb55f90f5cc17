"""No module reaches into another module's private names: no ``from dockyard.x import
_name`` (a private submodule aside, which the import contract polices) and no
``something._name`` for a ``_name`` this module does not define itself, except on
``self``/``cls`` or on a module of the standard library or a third-party package.
What needs sharing gets a public name in its module."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.clirunner import REPO

# Third-party internals with no public way in, each with its reason.
ALLOWED = {
    # aiohttp keeps the bytes read past an upgrade request there; the hijacked
    # stream must start with them.
    ("dockyard/daemon/hijack.py", "previous._message_tail"),
}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_module(package_root: Path, dotted: str) -> bool:
    path = package_root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _private_names_defined(tree: ast.Module) -> set[str]:
    """Private names this module defines: functions, methods, classes, and names
    assigned (``_x = ...``, ``self._x = ...``, ``__slots__`` entries aside)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if _is_private(name)}


def private_reaches(source: str, package_root: Path) -> list[str]:
    """The reaches into private names in one module's source (line: text): a private
    name used here that another module defines."""
    tree = ast.parse(source)
    own = _private_names_defined(tree)
    outside: set[str] = set()  # names bound to modules from outside the project
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "dockyard":
                    outside.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "dockyard":
                outside.update(alias.asname or alias.name for alias in node.names)
                continue
            for alias in node.names:
                if _is_private(alias.name) and not _is_module(
                    package_root.parent, f"{node.module}.{alias.name}"
                ):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr) and node.attr not in own:
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ({"self", "cls"} | outside):
                continue
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_reaches_into_private_names() -> None:
    package_root = REPO / "dockyard"
    problems = []
    for path in sorted(package_root.rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        for reach in private_reaches(path.read_text(), package_root):
            text = reach.split(": ", 1)[1]
            if (relative, text) not in ALLOWED:
                problems.append(f"{relative}:{reach}")
    assert problems == []


def test_the_check_sees_both_kinds_of_reach() -> None:
    source = (
        "import os\n"
        "from dockyard.store.store import _helper\n"
        "from dockyard.layers import _archive\n"  # a private module: the contract's business
        "class Mine:\n"
        "    def _own(self): ...\n"
        "def f(store, mine):\n"
        "    os._exit(0)\n"  # the standard library's: not ours to judge
        "    mine._own()\n"  # defined in this module: its own business
        "    return store._lock(), self._fine\n"
    )
    assert private_reaches(source, REPO / "dockyard") == [
        "2: from dockyard.store.store import _helper",
        "9: store._lock",
    ]
