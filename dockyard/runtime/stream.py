"""Framing between the monitor and its clients (attach, start -a, run, wait).

Docker's stream framing: an 8-byte header (stream type, three zero bytes,
big-endian payload length) then the payload. Types: 0 stdin, 1 stdout,
2 stderr, 3 control (a JSON object: hello, resize, close-stdin, exit).
"""

from __future__ import annotations

import json
import os
import socket
import struct

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

STDIN, STDOUT, STDERR, CONTROL = 0, 1, 2, 3
_HEADER = struct.Struct(">BxxxI")
MAX_FRAME = 1 << 20


def frame(kind: int, payload: bytes) -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


def control(message: dict[str, Any]) -> bytes:
    return frame(CONTROL, json.dumps(message).encode())


class FrameReader:
    """Accumulates bytes and yields complete (type, payload) frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self._buffer)
            if size > MAX_FRAME:
                raise ValueError("frame too large")
            if len(self._buffer) < _HEADER.size + size:
                break
            frames.append((kind, bytes(self._buffer[_HEADER.size : _HEADER.size + size])))
            del self._buffer[: _HEADER.size + size]
        return frames


def socket_path(directory: str | os.PathLike[str], name: str, dir_fd: int | None = None) -> str:
    """A path for a unix socket in directory that fits in sun_path (108 bytes).

    Long directory paths go through /proc/self/fd/<dir_fd>, which the kernel
    resolves like the directory itself.
    """
    full = os.path.join(os.fspath(directory), name)
    if len(full.encode()) < 100 or dir_fd is None:
        return full
    return f"/proc/self/fd/{dir_fd}/{name}"


def connect(directory: str | os.PathLike[str], name: str = "attach.sock") -> socket.socket:
    """Connect to the unix socket name in directory (raises OSError when nobody listens)."""
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(socket_path(directory, name, dir_fd))
        except OSError:
            sock.close()
            raise
        return sock
    finally:
        os.close(dir_fd)


def listen(directory: str | os.PathLike[str], name: str = "attach.sock") -> socket.socket:
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        path = socket_path(directory, name, dir_fd)
        try:
            os.unlink(os.path.join(os.fspath(directory), name))
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(16)
        return sock
    finally:
        os.close(dir_fd)
