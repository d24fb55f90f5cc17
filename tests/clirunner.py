"""Running the real `dockyard` CLI as a subprocess on a given store (not a test module)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
