"""The import contract of pyproject.toml ([tool.importlinter]) holds on the tree, and
lint-imports does fail it: on a copy of the package given an upward import, a cycle
and a reach into another package's private module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clirunner import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path, source_root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with ``project``'s pyproject.toml, the package found under source_root."""
    env = dict(os.environ, PYTHONPATH=str(source_root))
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(REPO, REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the dockyard package and of pyproject.toml (its contract) in tmp_path."""
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        REPO / "dockyard", tmp_path / "dockyard", ignore=shutil.ignore_patterns("__pycache__")
    )
    assert lint_imports(tmp_path, tmp_path).returncode == 0  # the copy starts clean
    return tmp_path


def add_lines(module: Path, text: str) -> None:
    module.write_text(module.read_text() + "\n\n" + text + "\n")


def test_an_upward_import_breaks_the_layers(package_copy: Path) -> None:
    # lazily, inside a function: it counts all the same
    add_lines(
        package_copy / "dockyard" / "layers" / "create.py",
        "def _upward() -> None:\n    from dockyard.cli import table  # noqa: F401",
    )
    result = lint_imports(package_copy, package_copy)
    assert result.returncode != 0
    assert "dockyard.layers is not allowed to import dockyard.cli" in result.stdout
    assert "dockyard.layers.create -> dockyard.cli.table" in result.stdout


def test_a_cycle_inside_a_package_breaks_the_graph(package_copy: Path) -> None:
    # apply imports compression; compression importing apply closes a cycle
    add_lines(
        package_copy / "dockyard" / "layers" / "compression.py",
        "def _cycle() -> None:\n    from dockyard.layers import apply  # noqa: F401",
    )
    result = lint_imports(package_copy, package_copy)
    assert result.returncode != 0
    assert "No cycles are allowed in dockyard.layers" in result.stdout


def test_a_private_module_of_another_package_is_refused(package_copy: Path) -> None:
    add_lines(
        package_copy / "dockyard" / "store" / "blobs.py",
        "def _private() -> None:\n    from dockyard.layers import _archive  # noqa: F401",
    )
    result = lint_imports(package_copy, package_copy)
    assert result.returncode != 0
    assert "dockyard.store.blobs -> dockyard.layers._archive" in result.stdout


def test_a_new_top_level_package_needs_a_row(package_copy: Path) -> None:
    (package_copy / "dockyard" / "newthing").mkdir()
    (package_copy / "dockyard" / "newthing" / "__init__.py").write_text("")
    result = lint_imports(package_copy, package_copy)
    assert result.returncode != 0
    assert "dockyard.newthing" in result.stdout
