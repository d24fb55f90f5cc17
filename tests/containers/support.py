"""Helpers shared by the container tests (no tests here): a store with busybox, leak checks."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clirunner import Cli

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


class Session:
    """The dockyard CLI running on the slave side of a pty we drive."""

    def __init__(self, root: Path, *args: str) -> None:
        self.output = b""
        self.answered = 0
        self.seen = 0
        pid, fd = pty.fork()
        if pid == 0:
            os.environ["DOCKYARD_ROOT"] = str(root)
            os.execv(sys.executable, [sys.executable, "-m", "dockyard.cli.main", *args])
        self.pid, self.fd = pid, fd

    def expect(self, needle: bytes, timeout: float = 20) -> bytes:
        """Wait for needle in the output that follows the previous match; that output."""
        deadline = time.monotonic() + timeout
        while needle not in self.output[self.seen :]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{needle!r} not seen in {self.output!r}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"EOF before {needle!r}: {self.output!r}")
                self.output += chunk
                self._answer_cursor_queries()
        start = self.seen
        self.seen = self.output.index(needle, start) + len(needle)
        return self.output[start : self.seen]

    def _answer_cursor_queries(self) -> None:
        """Answer busybox ash's cursor position query (ESC [6n) as a real terminal does."""
        while self.output.count(b"\x1b[6n") > self.answered:
            self.answered += 1
            os.write(self.fd, b"\x1b[1;5R")

    def send(self, data: bytes) -> None:
        time.sleep(0.3)  # type like a person: ash reads escape-sequence replies with a timeout
        os.write(self.fd, data)

    def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.05)
                if ready:
                    self.output += os.read(self.fd, 4096)
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        raise AssertionError(f"session did not end: {self.output!r}")
