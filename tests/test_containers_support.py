"""Helpers shared by the container tests (no tests here): a store with busybox, leak checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Cli


def make_busybox_root(root: Path, busybox_tar: Path) -> Cli:
    cli = Cli(root, root.parent)
    cli("import", "--change", 'CMD ["sh"]', str(busybox_tar), "busybox:latest")
    return cli


def dockyard_mounts(root: Path) -> list[str]:
    with open("/proc/mounts", encoding="utf-8") as mounts:
        return [line for line in mounts if str(root) in line]


def processes_under(root: Path) -> list[str]:
    """Processes whose command line or cwd mentions the store root (monitors, runtimes)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if str(root) in cmdline or cwd.startswith(str(root)):
            found.append(f"{pid} {cmdline}")
    return found


def run_cli(
    root: Path, *args: str, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, DOCKYARD_ROOT=str(root))
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )
