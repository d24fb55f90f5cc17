"""A real `run -i -t` session through a pseudo-terminal: prompt, tty, ^P^Q detach, attach."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_containers_support import (
    NEEDS_RUNTIME,
    busybox_store,
    run_cli,
)

pytestmark = NEEDS_RUNTIME


# busybox ash prints its prompt then asks the terminal for the cursor position
PROMPT = b"# \x1b[6n"


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


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Iterator[Path]:
    yield from busybox_store(tmp_path_factory, busybox_tar, "tty")


def test_run_it_session_start_ai_detach_attach(root: Path) -> None:
    session = Session(root, "run", "-i", "-t", "--name", "it_test", "busybox")
    session.expect(PROMPT)
    session.send(b"echo first_test! >> first\r")
    session.expect(PROMPT, timeout=10)
    session.send(b"cat first; tty; echo $TERM\r")
    out = session.expect(b"xterm")
    assert b"first_test!" in out and b"/dev/pts/0" in out
    session.send(b"exit\r")
    assert session.wait() == 0
    assert run_cli(root, "diff", "it_test").stdout.decode().splitlines().count("A /first") == 1

    # start -ai, then detach with ctrl-p ctrl-q: the container keeps running
    session = Session(root, "start", "-ai", "it_test")
    session.send(b"\r")
    session.expect(PROMPT)
    session.send(b"ls first\r")
    session.expect(b"first\r\n")
    session.send(b"\x10\x11")
    assert session.wait() == 0
    status = run_cli(root, "ps", "--format", "{{.Names}} {{.Status}}").stdout.decode()
    assert status.startswith("it_test Up ")

    # attach again and leave with exit 7: attach returns the container's code
    session = Session(root, "attach", "it_test")
    time.sleep(1)
    session.send(b"echo attached\r")
    session.expect(b"attached\r\n")
    session.send(b"exit 7\r")
    assert session.wait() == 7
    assert run_cli(root, "wait", "it_test").stdout == b"7\n"

    # the session was logged (tty: one stream, raw bytes)
    logs = run_cli(root, "logs", "it_test").stdout
    assert b"first_test!" in logs
    run_cli(root, "rm", "it_test")


def test_ctrl_c_reaches_container(root: Path) -> None:
    session = Session(
        root,
        "run",
        "-it",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 0.1; done",
    )
    session.expect(b"ready")
    session.send(b"\x03")
    session.expect(b"got-int")
    assert session.wait() == 9


def test_window_size_follows_terminal(root: Path) -> None:
    import fcntl
    import struct
    import termios

    session = Session(root, "run", "-it", "--rm", "busybox", "sh")
    session.expect(PROMPT)
    fcntl.ioctl(session.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    os.kill(session.pid, 28)  # SIGWINCH, as the terminal would send it
    time.sleep(0.3)
    session.send(b"stty size\r")
    session.expect(b"33 111")
    session.send(b"exit\r")
    assert session.wait() == 0
