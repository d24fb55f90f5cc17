"""Running the real `dockyard` CLI on the build tests' store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

NEEDS_RUNTIME = pytest.mark.skipif(
    os.geteuid() != 0 or not (shutil.which("crun") or shutil.which("runc")),
    reason="needs root and an OCI runtime",
)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class Dockyard:
    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(
        self, *args: str, stdin: bytes | None = None, check: bool = True, cwd: Path | None = None
    ) -> Result:
        process = subprocess.run(
            [sys.executable, "-m", "dockyard.cli.main", *args],
            env=dict(os.environ, DOCKYARD_ROOT=str(self.root)),
            input=stdin,
            capture_output=True,
            timeout=300,
            cwd=cwd or self.root.parent,
        )
        result = Result(
            process.returncode,
            process.stdout.decode(errors="replace"),
            process.stderr.decode(errors="replace"),
        )
        if check and result.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} failed: {result}")
        return result
