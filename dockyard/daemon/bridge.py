"""Sync file objects over async streams, for engine calls running in worker threads.

BodyReader: a request body (aiohttp StreamReader) as a blocking reader.
ResponseWriter: a blocking writer whose chunks are written to a streamed
response by the event loop; the headers go out with the first chunk, so an
error raised before any byte is written is still an ordinary error response.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

from aiohttp import web

CHUNK = 1 << 20


class BodyReader(io.RawIOBase):
    def __init__(self, content: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._content = content
        self._loop = loop
        self._buffer = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def _fetch(self, size: int) -> bytes:
        if self._eof:
            return b""
        future = asyncio.run_coroutine_threadsafe(self._content.read(size), self._loop)
        data = future.result()
        if not data:
            self._eof = True
        return data

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks = [self._buffer]
            self._buffer = b""
            while True:
                data = self._fetch(CHUNK)
                if not data:
                    return b"".join(chunks)
                chunks.append(data)
        if self._buffer:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
            return data
        return self._fetch(max(1, min(size, CHUNK)))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def peek(self, size: int = 1) -> bytes:
        if not self._buffer:
            self._buffer = self._fetch(max(size, 65536))
        return self._buffer[:size]


class ResponseWriter(io.RawIOBase):
    """A blocking writer: write() waits until the loop has written (and drained) the bytes."""

    def __init__(
        self,
        request: web.Request,
        loop: asyncio.AbstractEventLoop,
        make_response: Callable[[], web.StreamResponse],
    ) -> None:
        self._request = request
        self._loop = loop
        self._make_response = make_response
        self.response: web.StreamResponse | None = None
        self._pending = bytearray()

    def writable(self) -> bool:
        return True

    async def _write(self, data: bytes) -> None:
        if self.response is None:
            response = self._make_response()
            await response.prepare(self._request)
            self.response = response
        await self.response.write(data)

    def _send(self, data: bytes) -> None:
        asyncio.run_coroutine_threadsafe(self._write(data), self._loop).result()

    def write(self, data: Any) -> int:
        size = len(data)
        self._pending += data
        if len(self._pending) >= 256 * 1024:
            chunk = bytes(self._pending)
            self._pending.clear()
            self._send(chunk)
        return size

    def flush(self) -> None:
        if self._pending:
            chunk = bytes(self._pending)
            self._pending.clear()
            self._send(chunk)

    async def finish(self) -> web.StreamResponse:
        """After the job: the rest of the bytes, then the end of the response."""
        if self._pending or self.response is None:
            chunk = bytes(self._pending)
            self._pending.clear()
            await self._write(chunk)
        assert self.response is not None
        await self.response.write_eof()
        return self.response
