"""Docker's connection hijack: answer `101 UPGRADED` and turn the HTTP connection into a
raw two-way stream (attach, exec start).

aiohttp's request handler would close the transport when the client
half-closes (the docker CLI shuts down its write side at stdin EOF but still
reads output), so the transport is handed to an asyncio StreamReaderProtocol,
which keeps the write side open after EOF. Bytes aiohttp already read past
the request are fed to the new reader first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from dockyard.daemon import apiversion

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


class _Protocol(asyncio.StreamReaderProtocol):
    """Tells aiohttp's handler about the end of the connection too, so it forgets it."""

    def __init__(self, reader: asyncio.StreamReader, previous: Any) -> None:
        super().__init__(reader)
        self._previous = previous

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        previous, self._previous = self._previous, None
        if previous is not None:
            try:
                previous.connection_lost(exc)
            except Exception:  # noqa: BLE001 - aiohttp's bookkeeping only
                pass


class Hijacked:
    """The raw stream of a hijacked request."""

    def __init__(
        self,
        request: web.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.request = request
        self.reader = reader
        self.writer = writer

    async def write(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise ConnectionResetError("client went away")
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        """End the stream: the client sees EOF on its read side."""
        if not self.writer.is_closing():
            try:
                await self.writer.drain()
            except ConnectionError:
                pass
            self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass

    def finished(self) -> web.StreamResponse:
        """What the route returns once the hijacked stream is done."""
        protocol = self.request.protocol
        if protocol is not None:
            try:
                protocol.force_close()
            except Exception:  # noqa: BLE001
                pass
        return web.Response(status=200)


def wants_upgrade(request: web.Request) -> bool:
    connection = request.headers.get("Connection", "").lower()
    return "upgrade" in connection and bool(request.headers.get("Upgrade"))


async def hijack(request: web.Request, multiplexed: bool) -> Hijacked:
    """Send the upgrade response and take over the connection.

    The request body (exec start's JSON) must have been read before.
    """
    content_type = RAW_STREAM
    if multiplexed and apiversion.at_least(request.match_info.get("api_version"), "1.42"):
        content_type = MULTIPLEXED_STREAM
    if wants_upgrade(request):
        head = (
            "HTTP/1.1 101 UPGRADED\r\n"
            f"Content-Type: {content_type}\r\n"
            "Connection: Upgrade\r\n"
            "Upgrade: tcp\r\n"
        )
    else:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
    head += (
        f"Api-Version: {apiversion.advertised()}\r\n"
        "Docker-Experimental: false\r\n"
        "Ostype: linux\r\n"
        "\r\n"
    )
    transport = request.transport
    previous = request.protocol
    if transport is None or transport.is_closing():
        raise ConnectionResetError("client went away")
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20, loop=loop)
    protocol = _Protocol(reader, previous)
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    tail = getattr(previous, "_message_tail", b"")
    if tail:
        reader.feed_data(tail)
        try:
            previous._message_tail = b""
        except AttributeError:
            pass
    try:
        transport.resume_reading()
    except (AttributeError, RuntimeError):
        pass
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    writer.write(head.encode())
    await writer.drain()
    return Hijacked(request, reader, writer)
