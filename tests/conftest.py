"""Shared fixtures: stores in temp dirs, the base image tarballs, running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class Cli:
    """Runs `dockyard --root ROOT ...` as a real subprocess."""

    def __init__(self, root: Path, cwd: Path) -> None:
        self.root = root
        self.cwd = cwd

    def __call__(self, *args: str, stdin: bytes | None = None, check: bool = True) -> Result:
        env = dict(os.environ, DOCKYARD_ROOT=str(self.root))
        process = subprocess.run(
            [sys.executable, "-m", "dockyard.cli.main", *args],
            cwd=self.cwd,
            env=env,
            input=stdin,
            capture_output=True,
            timeout=600,
        )
        result = Result(
            process.returncode,
            process.stdout.decode(errors="replace"),
            process.stderr.decode(errors="replace"),
        )
        if check and process.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} failed: {result}")
        return result


@pytest.fixture(scope="session")
def busybox_tar() -> Path:
    from dockyard.baseimages import ensure_base_image

    return ensure_base_image("busybox")


@pytest.fixture(scope="session")
def debian_tar() -> Path:
    from dockyard.baseimages import ensure_base_image

    return ensure_base_image("debian")


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def engine(store_root: Path):  # type: ignore[no-untyped-def]
    from dockyard import Engine

    engine = Engine(store_root)
    yield engine
    engine.close()


@pytest.fixture
def cli(store_root: Path, tmp_path: Path) -> Cli:
    return Cli(store_root, tmp_path)
