"""Helpers shared by the container tests (no tests here): a store with busybox, leak checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli

NEEDS_RUNTIME = pytest.mark.skipif(
    os.geteuid() != 0 or not (shutil.which("crun") or shutil.which("runc")),
    reason="needs root and an OCI runtime",
)


def make_busybox_root(root: Path, busybox_tar: Path) -> Cli:
    cli = Cli(root, root.parent)
    cli("import", "--change", 'CMD ["sh"]', str(busybox_tar), "busybox:latest")
    return cli


def dockyard_mounts(root: Path) -> list[str]:
    with open("/proc/mounts", encoding="utf-8") as mounts:
        return [line for line in mounts if str(root) in line]


def processes_under(root: Path) -> list[str]:
    """Processes (monitors, runtimes, containers) whose command line, cwd, root or open files
    are inside the store root."""
    found = []
    prefix = str(root)
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            paths = [os.readlink(f"/proc/{pid}/cwd"), os.readlink(f"/proc/{pid}/root")]
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    paths.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:
                    continue
        except OSError:
            continue
        if prefix in cmdline or any(path.startswith(prefix) for path in paths):
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


def busybox_store(
    tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path, name: str
) -> Iterator[Path]:
    """A module's store with busybox imported; afterwards its containers are removed and
    nothing (no mount, no process) may be left behind."""
    root = tmp_path_factory.mktemp(name) / "store"
    make_busybox_root(root, busybox_tar)
    yield root
    for container in os.listdir(root / "containers"):
        run_cli(root, "rm", "-f", container)
    assert dockyard_mounts(root) == []
    assert processes_under(root) == []


def dy(
    root: Path, *args: str, stdin: bytes | None = None, code: int | None = 0
) -> subprocess.CompletedProcess[bytes]:
    """The CLI on ``root``, its exit code checked unless ``code`` is None."""
    result = run_cli(root, *args, stdin=stdin)
    if code is not None:
        assert result.returncode == code, (args, result)
    return result
