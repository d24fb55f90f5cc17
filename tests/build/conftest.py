"""Fixtures of the build tests: one store with busybox for the session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.clirunner import Cli
from tests.containers.support import dockyard_mounts, make_busybox_root, processes_under


@pytest.fixture(scope="session")
def build_store(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Path:
    root = tmp_path_factory.mktemp("build") / "store"
    make_busybox_root(root, busybox_tar)
    yield root
    for container in os.listdir(root / "containers"):
        Cli(root, root.parent)("rm", "-f", container, check=False)
    assert dockyard_mounts(root) == []
    assert processes_under(root) == []


@pytest.fixture(scope="session")
def dy(build_store: Path) -> Cli:
    return Cli(build_store, build_store.parent)
