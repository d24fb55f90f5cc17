"""Fixtures of the build tests: one store with busybox for the session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from buildcli import Dockyard  # noqa: E402


@pytest.fixture(scope="session")
def build_store(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Path:
    root = tmp_path_factory.mktemp("build") / "store"
    Dockyard(root)("import", "--change", 'CMD ["sh"]', str(busybox_tar), "busybox:latest")
    yield root
    for container in os.listdir(root / "containers"):
        Dockyard(root)("rm", "-f", container, check=False)
    with open("/proc/mounts", encoding="utf-8") as mounts:
        assert [line for line in mounts if str(root) in line] == []


@pytest.fixture(scope="session")
def dy(build_store: Path) -> Dockyard:
    return Dockyard(build_store)
