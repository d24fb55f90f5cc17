"""Running the real CLI as a subprocess, killing it, and copying stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    killed: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def line(self) -> str:
        return f"rc={self.returncode} killed={self.killed} err={self.stderr.strip()[-300:]!r}"


def dockyard_argv(*args: str) -> list[str]:
    return [PYTHON, "-m", "dockyard.cli.main", *args]


def env_for(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_FAULT")}
    env["DOCKYARD_ROOT"] = str(root)
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def run(
    root: Path,
    *args: str,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> Outcome:
    """One CLI command to completion (or to the SIGKILL a fault point sends itself)."""
    process = subprocess.run(
        dockyard_argv(*args),
        cwd=cwd or root.parent,
        env=env or env_for(root),
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )
    return Outcome(
        process.returncode,
        process.stdout.decode(errors="replace"),
        process.stderr.decode(errors="replace"),
        killed=process.returncode == -signal.SIGKILL,
    )


def run_killed_after(
    root: Path,
    delay: float,
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Start a CLI command and SIGKILL its whole process group after ``delay`` seconds
    (unless it finished first)."""
    process = subprocess.Popen(
        dockyard_argv(*args),
        cwd=cwd or root.parent,
        env=env or env_for(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    killed = False
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        killed = True
    out, err = process.communicate()
    return Outcome(
        process.returncode, out.decode(errors="replace"), err.decode(errors="replace"), killed
    )


def copy_tree(source: Path, target: Path) -> None:
    """cp -a: keeps overlay whiteouts (character devices), owners, modes and hardlinks."""
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)


def remove_tree(path: Path) -> None:
    if path.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)
