"""Blob uploads (OCI distribution spec): monolithic (POST, then PUT with the body),
chunked (PATCH with Content-Range, then PUT) for large blobs of known content, and
streamed (one PATCH fed while the blob is being produced, the digest given at the
final PUT) for layers compressed on the fly.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from yarl import URL

from dockyard.client.errors import RegistryError
from dockyard.digest import Digest
from dockyard.places.registry import RegistryRepository

CHUNKED_ABOVE = 256 << 20  # blobs larger than this go up in chunks
CHUNK_SIZE = 128 << 20
READ_SIZE = 1 << 20


def _with_digest(location: str, digest: Digest) -> str:
    return str(URL(location, encoded=True).update_query(digest=str(digest)))


async def _file_chunks(
    path: Path, start: int, length: int, progress: Callable[[int], None], done_before: int
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        sent = 0
        while sent < length:
            data = await loop.run_in_executor(
                None, os.pread, fd, min(READ_SIZE, length - sent), start + sent
            )
            if not data:
                raise RegistryError(f"{path}: file ended early")
            sent += len(data)
            yield data
            progress(done_before + sent)
    finally:
        os.close(fd)


async def _finish(
    repository: RegistryRepository, location: str, digest: Digest, body=None, length: int = 0
) -> None:  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
    async with repository.session.request(
        "PUT",
        _with_digest(location, digest),
        scopes=repository.push_scope,
        headers=headers,
        data=body if body is not None else b"",
    ) as response:
        await repository.session.check(response)
        if response.status not in (201, 204):
            raise RegistryError(f"uploading {digest}: unexpected status {response.status}")


async def upload_file(
    repository: RegistryRepository,
    path: Path,
    digest: Digest,
    size: int,
    progress: Callable[[int], None],
) -> None:
    """Upload a blob whose bytes are in ``path``: one PUT, or PATCH chunks when large."""
    location = await repository.start_upload()
    if size <= CHUNKED_ABOVE:
        await _finish(repository, location, digest, _file_chunks(path, 0, size, progress, 0), size)
        return
    offset = 0
    while offset < size:
        length = min(CHUNK_SIZE, size - offset)
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(length),
            "Content-Range": f"{offset}-{offset + length - 1}",
        }
        async with repository.session.request(
            "PATCH",
            location,
            scopes=repository.push_scope,
            headers=headers,
            data=_file_chunks(path, offset, length, progress, offset),
        ) as response:
            await repository.session.check(response)
            location = repository._absolute(response.headers.get("Location") or location)
        offset += length
    await _finish(repository, location, digest)


async def upload_bytes(repository: RegistryRepository, data: bytes, digest: Digest) -> None:
    location = await repository.start_upload()
    await _finish(repository, location, digest, data, len(data))


async def upload_stream(
    repository: RegistryRepository,
    chunks: AsyncIterator[bytes],
    digest_when_done: Callable[[], Digest],
) -> Digest:
    """Upload bytes as they are produced (one streamed PATCH); the digest is asked for
    once the stream has ended."""
    location = await repository.start_upload()
    async with repository.session.request(
        "PATCH",
        location,
        scopes=repository.push_scope,
        headers={"Content-Type": "application/octet-stream"},
        data=chunks,
    ) as response:
        await repository.session.check(response)
        location = repository._absolute(response.headers.get("Location") or location)
    digest = digest_when_done()
    await _finish(repository, location, digest)
    return digest
