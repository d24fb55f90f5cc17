"""The client side of attach: relay the terminal or stdio to a container's monitor.

With a terminal (-t), the local tty is put in raw mode, its size is sent and
followed on SIGWINCH, and Ctrl-P Ctrl-Q detaches. Without one, stdin EOF
closes the container's stdin and Ctrl-C is passed on as SIGINT.
"""

from __future__ import annotations

import fcntl
import os
import select
import selectors
import signal
import socket
import struct
import sys
from contextlib import contextmanager

from dockyard.runtime import stream

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Iterator

DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q
DETACHED = -1


def terminal_size(fd: int) -> tuple[int, int] | None:
    import termios  # termios and tty only for terminals (start-up time)

    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return (rows, cols) if rows and cols else None


@contextmanager
def raw_terminal(fd: int, enabled: bool) -> Iterator[None]:
    if not enabled or not os.isatty(fd):
        yield
        return
    import termios
    import tty as ttymod

    saved = termios.tcgetattr(fd)
    try:
        ttymod.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[written:]


class DetachScanner:
    """Holds back a prefix of the detach sequence until it is complete (detach) or broken
    (passed on). The CLI's attach and the daemon's attach sessions both use it."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for byte in data:
            candidate = self.held + bytes([byte])
            if self.keys.startswith(candidate):
                self.held = candidate
                if candidate == self.keys:
                    return bytes(out), True
            else:
                out += candidate
                self.held = b""
        return bytes(out), False


class _Peer:
    """The monitor's end of the connection.

    The monitor may finish (send the last output and the exit status, close) before
    this side has said anything: under load, `run` of a short command can reach its
    first send after the container is gone. A send then fails (EPIPE, or ECONNRESET),
    but everything the monitor sent is still queued here and must be read; so a failed
    send only marks the peer closed, and a reset reads as the end of the stream.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.closed = False

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def recv(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except ConnectionResetError:
            return b""


def relay(
    sock: socket.socket,
    *,
    stdin: bool,
    stdout: bool = True,
    stderr: bool = True,
    tty: bool = False,
    stdin_fd: int = 0,
    stdout_fd: int = 1,
    stderr_fd: int = 2,
) -> int:
    """Relay until the container exits (its exit code) or the user detaches (DETACHED)."""
    peer = _Peer(sock)
    peer.send(stream.control({"type": "hello", "stdin": stdin, "stdout": stdout, "stderr": stderr}))
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "sock")
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    selector.register(wake_r, selectors.EVENT_READ, "signal")
    pending_signals: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        pending_signals.append(signum)
        try:
            os.write(wake_w, b"\0")
        except OSError:
            pass

    handled = [signal.SIGWINCH] if tty else [signal.SIGINT, signal.SIGTERM]
    previous = {signum: signal.signal(signum, on_signal) for signum in handled}
    if stdin and not peer.closed:
        try:
            selector.register(stdin_fd, selectors.EVENT_READ, "stdin")
        except PermissionError:  # a regular file or /dev/null: epoll refuses it, it never blocks
            _send_file(peer, stdin_fd)
    scanner = DetachScanner(DETACH_KEYS) if tty else None
    reader = stream.FrameReader()
    if tty:
        size = terminal_size(stdin_fd) if stdin else None
        size = size or terminal_size(stdout_fd)
        if size:
            peer.send(stream.control({"type": "resize", "height": size[0], "width": size[1]}))
    try:
        while True:
            for key, _ in selector.select():
                if key.data == "signal":
                    os.read(wake_r, 1024)
                    while pending_signals:
                        signum = pending_signals.pop(0)
                        if signum == signal.SIGWINCH:
                            size = terminal_size(stdin_fd) or terminal_size(stdout_fd)
                            if size:
                                message = {"type": "resize", "height": size[0], "width": size[1]}
                                peer.send(stream.control(message))
                        else:
                            peer.send(stream.control({"type": "signal", "signal": int(signum)}))
                elif key.data == "stdin":
                    try:
                        data = os.read(stdin_fd, 65536)
                    except OSError:
                        data = b""
                    if not data or peer.closed:
                        selector.unregister(stdin_fd)
                        peer.send(stream.control({"type": "close-stdin"}))
                        continue
                    if scanner is not None:
                        data, detach = scanner.feed(data)
                        if data:
                            peer.send(stream.frame(stream.STDIN, data))
                        if detach:
                            return DETACHED
                    else:
                        peer.send(stream.frame(stream.STDIN, data))
                else:
                    data = peer.recv()
                    if not data:
                        raise MonitorGone()
                    for kind, payload in reader.feed(data):
                        if kind == stream.STDOUT:
                            _write_all(stdout_fd, payload)
                        elif kind == stream.STDERR:
                            _write_all(stderr_fd, payload)
                        elif kind == stream.CONTROL:
                            code = _exit_code(payload)
                            if code is not None:
                                return code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        selector.close()
        os.close(wake_r)
        os.close(wake_w)


def _send_file(peer: _Peer, fd: int) -> None:
    while not peer.closed:
        data = os.read(fd, 65536)
        if not data:
            break
        peer.send(stream.frame(stream.STDIN, data))
    peer.send(stream.control({"type": "close-stdin"}))


class MonitorGone(Exception):
    """The monitor closed the connection without an exit status."""


def _exit_code(payload: bytes) -> int | None:
    import json

    try:
        message = json.loads(payload)
    except ValueError:
        return None
    if message.get("type") == "exit":
        return int(message.get("code", 0))
    return None


def wait_exit(sock: socket.socket) -> int:
    """Wait on a monitor connection (no streams) for the exit code."""
    peer = _Peer(sock)
    peer.send(stream.control({"type": "hello", "stdin": False, "stdout": False, "stderr": False}))
    reader = stream.FrameReader()
    while True:
        data = peer.recv()
        if not data:
            raise MonitorGone()
        for kind, payload in reader.feed(data):
            if kind == stream.CONTROL:
                code = _exit_code(payload)
                if code is not None:
                    return code


def stdin_is_tty() -> bool:
    return sys.stdin is not None and os.isatty(0)
