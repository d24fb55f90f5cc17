"""Receive a request body into storage, hashing it on the way, off the event loop.

The event loop only reads chunks from the socket; a worker thread hashes them and
writes them to the storage writer (hashlib and os.write release the GIL). The loop
keeps reading while the worker is busy, so the socket and the disk work at once;
the backlog between the two is bounded.
"""

from __future__ import annotations

import asyncio
import hashlib

from aiohttp import StreamReader

from dockyard.registry.storage import StorageWriter

BACKLOG_LIMIT = 32 << 20  # bytes read from the socket but not yet written


GROUP = 1 << 20


def _consume(chunks: list[bytes], writer: StorageWriter, hasher: hashlib._Hash | None) -> None:
    """Hash then write about 1 MiB at a time (the bytes are still in cache for the write)."""
    group: list[bytes] = []
    size = 0
    for chunk in chunks:
        if hasher is not None:
            hasher.update(chunk)
        group.append(chunk)
        size += len(chunk)
        if size >= GROUP:
            writer.writev(group)
            group = []
            size = 0
    if group:
        writer.writev(group)


async def receive(
    content: StreamReader,
    writer: StorageWriter,
    hasher: hashlib._Hash | None,
) -> int:
    """Copy the whole body into ``writer`` (updating ``hasher``); the byte count."""
    loop = asyncio.get_running_loop()
    pending: asyncio.Future | None = None
    batch: list[bytes] = []
    backlog = 0
    total = 0
    try:
        while True:
            chunk, end_of_http_chunk = await content.readchunk()
            if not chunk:
                if end_of_http_chunk and not content.at_eof():
                    continue  # (b"", True): a chunk boundary, not the end of the body
                break  # an empty body's reader answers (b"", True) for ever once drained
            total += len(chunk)
            batch.append(chunk)
            backlog += len(chunk)
            if pending is not None and not pending.done() and backlog < BACKLOG_LIMIT:
                continue
            if pending is not None:
                await pending
            pending = loop.run_in_executor(None, _consume, batch, writer, hasher)
            batch = []
            backlog = 0
        if pending is not None:
            await pending
            pending = None
        if batch:
            await loop.run_in_executor(None, _consume, batch, writer, hasher)
    finally:
        if pending is not None and not pending.done():
            # Let the worker finish with the writer before the caller closes it.
            try:
                await asyncio.shield(pending)
            except Exception:
                pass
    return total
