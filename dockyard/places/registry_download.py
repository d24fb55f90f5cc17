"""Resumable blob downloads into partial files named by digest.

A partial file that an earlier, interrupted pull left is hashed and continued with a
Range request; so is a connection cut in the middle (up to ``RETRIES`` times). Bytes
are written and hashed in a worker thread while the next chunk arrives. The digest and
size are checked at the end; a blob that does not match is deleted and the pull fails.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import aiohttp

from dockyard.client.errors import RegistryError
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive
from dockyard.places.growing import GrowingState
from dockyard.places.registry import RegistryRepository

RETRIES = 5
FLUSH_AT = 4 << 20
_READ = 1 << 20


def partial_path(directory: Path, digest: Digest) -> Path:
    return directory / f"pull-{digest.algorithm}-{digest.hex}.partial"


def _hash_existing(fd: int, length: int, hasher) -> None:  # type: ignore[no-untyped-def]
    position = 0
    while position < length:
        data = os.pread(fd, min(_READ, length - position), position)
        if not data:
            break
        hasher.update(data)
        position += len(data)


def _write_chunks(fd: int, chunks: list[bytes], offset: int, hasher) -> int:  # type: ignore[no-untyped-def]
    for chunk in chunks:
        hasher.update(chunk)
    total = sum(len(c) for c in chunks)
    done = 0
    views = [memoryview(c) for c in chunks]
    while done < total:
        n = os.pwritev(fd, views, offset + done)
        done += n
        while views and n >= len(views[0]):
            n -= len(views[0])
            views.pop(0)
        if views and n:
            views[0] = views[0][n:]
    return total


def _still_named(fd: int, path: Path) -> bool:
    """Is ``path`` still this file? (A finished download is unlinked from its partial
    name, its bytes hard-linked into the store as the blob.)"""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)


def _retryable(error: BaseException) -> bool:
    if isinstance(error, (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError)):
        return True
    if isinstance(error, RegistryError):
        return error.status is None or error.status >= 500
    return False


async def open_partial(path: Path) -> int:
    """Open (creating) a partial file and lock it: another process downloading the same
    blob into the same store finishes first. Returns -1 when that process completed
    and removed the file's name meanwhile (the blob is then in the store)."""
    loop = asyncio.get_running_loop()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        await loop.run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
        if not _still_named(fd, path):
            os.close(fd)
            return -1
    except BaseException:
        os.close(fd)
        raise
    return fd


async def download_blob(
    repository: RegistryRepository,
    digest: Digest,
    size: int,
    path: Path,
    fd: int,
    state: GrowingState,
    progress: Callable[[int], None],
) -> None:
    """Fetch ``digest`` into the partial file ``path`` (open as ``fd``, which the caller
    closes), continuing what is there; ``state`` tells readers how far the file is
    complete. Raises on failure (``state`` is failed too)."""
    loop = asyncio.get_running_loop()
    hasher = digest.hasher()
    try:
        written = os.fstat(fd).st_size
        if written > size:
            os.ftruncate(fd, 0)
            written = 0
        if written:
            await loop.run_in_executor(None, _hash_existing, fd, written, hasher)
        state.advance(written)
        progress(written)
        attempts = 0
        while written < size:
            skip = 0

            def on_status(status: int, _total: int | None, start: int = written) -> None:
                nonlocal skip
                if status == 200 and start:
                    skip = start  # the registry ignored Range: drop what we have

            pending: asyncio.Future | None = None
            pending_chunks: list[bytes] = []
            chunks: list[bytes] = []
            buffered = 0
            try:
                async for chunk in repository.blob_chunks(digest, written, on_status):
                    if skip:
                        if len(chunk) <= skip:
                            skip -= len(chunk)
                            continue
                        chunk, skip = chunk[skip:], 0
                    chunks.append(chunk)
                    buffered += len(chunk)
                    if written + buffered > size:
                        raise InvalidArchive(
                            f"filesystem layer verification failed for digest {digest}:"
                            f" more than the {size} bytes announced"
                        )
                    if buffered >= FLUSH_AT:
                        if pending is not None:
                            written += await pending
                            state.advance(written, pending_chunks)
                            progress(written)
                        pending = loop.run_in_executor(
                            None, _write_chunks, fd, chunks, written, hasher
                        )
                        pending_chunks, chunks, buffered = chunks, [], 0
                if pending is not None:
                    written += await pending
                    pending = None
                    state.advance(written, pending_chunks)
                if chunks:
                    written += await loop.run_in_executor(
                        None, _write_chunks, fd, chunks, written, hasher
                    )
                    state.advance(written, chunks)
                    chunks = []
                progress(written)
                if written < size:
                    raise aiohttp.ClientPayloadError("the registry closed the blob early")
            except BaseException as error:
                if pending is not None:
                    written += await pending
                    state.advance(written, pending_chunks)
                if isinstance(error, asyncio.CancelledError) or not _retryable(error):
                    raise
                if chunks:  # bytes that did arrive are kept: the retry starts after them
                    written += await loop.run_in_executor(
                        None, _write_chunks, fd, chunks, written, hasher
                    )
                    state.advance(written, chunks)
                attempts += 1
                if attempts > RETRIES:
                    raise RegistryError(
                        f"downloading {digest}: {error or type(error).__name__}"
                        f" (after {RETRIES} retries)"
                    ) from None
                await asyncio.sleep(min(0.1 * 2**attempts, 2.0))
        if Digest(digest.algorithm, hasher.hexdigest()) != digest:
            os.ftruncate(fd, 0)
            path.unlink(missing_ok=True)
            raise InvalidArchive(f"filesystem layer verification failed for digest {digest}")
        state.finish()
    except BaseException as error:
        state.fail(
            error
            if not isinstance(error, asyncio.CancelledError)
            else RegistryError("download cancelled")
        )
        raise
