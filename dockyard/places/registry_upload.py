"""Blob uploads (OCI distribution spec): monolithic (POST, then PUT with the body),
chunked (PATCH with Content-Range, then PUT) for large blobs of known content, and
streamed (one PATCH fed while the blob is being produced, the digest given at the
final PUT) for layers compressed on the fly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from typing import BinaryIO

from yarl import URL

from dockyard.client.errors import RegistryError
from dockyard.digest import Digest
from dockyard.places.registry import RegistryRepository

CHUNKED_ABOVE = 256 << 20  # blobs larger than this go up in chunks
CHUNK_SIZE = 128 << 20
READ_SIZE = 1 << 20


def _with_digest(location: str, digest: Digest) -> str:
    return str(URL(location, encoded=True).update_query(digest=str(digest)))


async def _stream_chunks(
    stream: BinaryIO, length: int, progress: Callable[[int], None], done_before: int
) -> AsyncIterator[bytes]:
    """The next ``length`` bytes of ``stream``, read in a worker thread."""
    loop = asyncio.get_running_loop()
    sent = 0
    while sent < length:
        data = await loop.run_in_executor(None, stream.read, min(READ_SIZE, length - sent))
        if not data:
            raise RegistryError("the blob ended early")
        sent += len(data)
        yield data
        progress(done_before + sent)


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


async def upload_blob(
    repository: RegistryRepository,
    opener: Callable[[], AbstractContextManager[BinaryIO]],
    digest: Digest,
    size: int,
    progress: Callable[[int], None],
) -> None:
    """Upload a blob of known digest and size: one PUT, or PATCH chunks when large."""
    location = await repository.start_upload()
    with opener() as stream:
        if size <= CHUNKED_ABOVE:
            chunks = _stream_chunks(stream, size, progress, 0)
            await _finish(repository, location, digest, chunks, size)
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
                data=_stream_chunks(stream, length, progress, offset),
            ) as response:
                await repository.session.check(response)
                location = repository.absolute_url(response.headers.get("Location") or location)
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
        location = repository.absolute_url(response.headers.get("Location") or location)
    digest = digest_when_done()
    await _finish(repository, location, digest)
    return digest
