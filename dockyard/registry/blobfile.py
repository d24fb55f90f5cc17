"""Serving blob files: headers, single byte ranges (206/416), sendfile or a copy."""

from __future__ import annotations

import asyncio
import os
import re

from aiohttp import web

from dockyard.registry.blobsend import LocalCopySender

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """(offset, count) for a satisfiable single range, None for no/ignored range,
    False for an unsatisfiable one."""
    if not header:
        return None
    match = _RANGE_RE.match(header.strip())
    if not match:
        return None  # multiple or malformed ranges: serve the whole blob (RFC 9110 allows it)
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0:
            return False
        suffix = min(suffix, size)
        return size - suffix, suffix
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return False
    end = min(end, size - 1)
    return start, end - start + 1


class BlobResponse(web.StreamResponse):
    """A blob sent from a local file with loop.sendfile, or copied by ``sender``'s threads
    to a client on this machine (see blobsend); HEAD: headers only."""

    def __init__(
        self,
        path: str,
        size: int,
        offset: int,
        count: int,
        status: int = 200,
        sender: LocalCopySender | None = None,
    ) -> None:
        super().__init__(status=status)
        self._path = path
        self._sender = sender
        self._offset = offset
        self._count = count
        self.content_length = count
        self.headers["Accept-Ranges"] = "bytes"
        if status == 206:
            self.headers["Content-Range"] = f"bytes {offset}-{offset + count - 1}/{size}"

    async def prepare(self, request: web.BaseRequest):  # type: ignore[override]
        if request.method == "HEAD" or self._count == 0:
            return await super().prepare(request)
        fobj = open(self._path, "rb")  # noqa: SIM115 - raises before any header is sent
        try:
            writer = await super().prepare(request)
            transport = request.transport
            if transport is None:
                raise ConnectionResetError("Connection lost")
            sender = self._sender
            if sender is not None and sender.wanted(transport, self._count):
                await sender.send(transport, fobj.fileno(), self._offset, self._count)
            else:
                try:
                    await asyncio.get_running_loop().sendfile(
                        transport, fobj, self._offset, self._count
                    )
                except NotImplementedError:
                    await self._copy(writer, fobj)
            await super().write_eof()
            return writer
        finally:
            fobj.close()

    async def _copy(self, writer, fobj) -> None:
        remaining = self._count
        position = self._offset
        while remaining > 0:
            chunk = await asyncio.to_thread(
                os.pread, fobj.fileno(), min(1 << 20, remaining), position
            )
            if not chunk:
                raise ConnectionResetError("blob shorter than recorded")
            await writer.write(chunk)
            remaining -= len(chunk)
            position += len(chunk)


class DriverBlobResponse(web.StreamResponse):
    """A blob streamed from a storage driver without local files (read in a worker thread)."""

    CHUNK = 1 << 20

    def __init__(self, driver, path: str, size: int, offset: int, count: int, status: int = 200):
        super().__init__(status=status)
        self._driver = driver
        self._path = path
        self._offset = offset
        self._count = count
        self.content_length = count
        self.headers["Accept-Ranges"] = "bytes"
        if status == 206:
            self.headers["Content-Range"] = f"bytes {offset}-{offset + count - 1}/{size}"

    async def prepare(self, request: web.BaseRequest):  # type: ignore[override]
        if request.method == "HEAD" or self._count == 0:
            return await super().prepare(request)
        stream = await asyncio.to_thread(self._driver.open_read, self._path, self._offset)
        pending: asyncio.Future | None = None
        try:
            writer = await super().prepare(request)
            remaining = self._count
            # the next piece is read (from the object store) while this one is sent
            pending = asyncio.ensure_future(
                asyncio.to_thread(stream.read, min(self.CHUNK, remaining))
            )
            while remaining > 0:
                chunk = await pending
                pending = None
                if not chunk:
                    raise ConnectionResetError("blob shorter than recorded")
                remaining -= len(chunk)
                if remaining > 0:
                    pending = asyncio.ensure_future(
                        asyncio.to_thread(stream.read, min(self.CHUNK, remaining))
                    )
                await writer.write(chunk)
            await super().write_eof()
            return writer
        finally:
            if pending is not None:  # the client went away: let the read end first
                await asyncio.gather(pending, return_exceptions=True)
            stream.close()
