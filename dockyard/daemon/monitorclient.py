"""Async connections to a container's monitor (<container dir>/attach.sock).

The monitor speaks Docker's 8-byte framing: stdout/stderr frames out, stdin
frames in, and JSON control frames (hello, resize, close-stdin, signal, exit).
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

from dockyard.runtime import stream


class MonitorConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.frames = stream.FrameReader()

    @classmethod
    async def from_socket(cls, sock: socket.socket) -> MonitorConnection:
        sock.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=1 << 20)
        return cls(reader, writer)

    @classmethod
    async def connect(
        cls, directory: Path, *, stdin: bool = False, stdout: bool = False, stderr: bool = False
    ) -> MonitorConnection:
        """Connect and say hello (raises OSError when no monitor listens)."""
        sock = await asyncio.to_thread(stream.connect, directory)
        connection = await cls.from_socket(sock)
        await connection.control(
            {"type": "hello", "stdin": stdin, "stdout": stdout, "stderr": stderr}
        )
        return connection

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def control(self, message: dict[str, Any]) -> None:
        await self.send(stream.control(message))

    async def stdin(self, data: bytes) -> None:
        await self.send(stream.frame(stream.STDIN, data))

    async def frames_iter(self):  # type: ignore[no-untyped-def]
        """Yield (kind, payload) until the monitor closes the connection."""
        while True:
            data = await self.reader.read(65536)
            if not data:
                return
            for item in self.frames.feed(data):
                yield item

    async def close(self) -> None:
        try:
            self.writer.close()
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def exit_code_of(payload: bytes) -> tuple[int, str] | None:
    """(code, error) of an exit control message, None for other controls."""
    try:
        message = json.loads(payload)
    except ValueError:
        return None
    if message.get("type") != "exit":
        return None
    return int(message.get("code", 0)), str(message.get("error") or "")


async def wait_exit(directory: Path) -> int | None:
    """The exit code of the running container; None when there is no monitor to ask."""
    try:
        connection = await MonitorConnection.connect(directory)
    except OSError:
        return None
    try:
        async for kind, payload in connection.frames_iter():
            if kind == stream.CONTROL:
                found = exit_code_of(payload)
                if found is not None:
                    return found[0]
    finally:
        await connection.close()
    return None


async def send_control(directory: Path, message: dict[str, Any]) -> bool:
    try:
        connection = await MonitorConnection.connect(directory)
    except OSError:
        return False
    try:
        await connection.control(message)
    finally:
        await connection.close()
    return True
