"""A real `run -i -t` session through a pseudo-terminal: prompt, tty, ^P^Q detach, attach."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.support import (
    NEEDS_RUNTIME,
    Session,
    busybox_store,
    run_cli,
)

pytestmark = NEEDS_RUNTIME


# busybox ash prints its prompt then asks the terminal for the cursor position
PROMPT = b"# \x1b[6n"


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
