"""Upload sessions: start, append (streamed or chunked), finish (verify, then link), cancel.

A session is a row in ``uploads`` plus a file ``uploads/<id>/data`` in the driver.
The running hash of each session lives in this process's memory; when a session
is continued by another process (or after a failed request) the hash state is
dropped and the data is hashed again from storage when the upload finishes.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import StreamReader

from dockyard.digest import Digest
from dockyard.registry.content import Content, upload_dir, upload_path
from dockyard.registry.errors import RegistryError
from dockyard.registry.storage import StorageWriter
from dockyard.registry.streaming import receive

UPLOAD_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
MAX_HASH_STATES = 4096
HASH_READ_CHUNK = 4 << 20


@dataclass
class _HashState:
    algorithm: str
    hasher: hashlib._Hash
    offset: int


class RangeMismatch(Exception):
    """A chunk that does not start where the upload ends (the HTTP layer answers 416)."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"upload is at offset {offset}")
        self.offset = offset


class Uploads:
    def __init__(self, content: Content) -> None:
        self.content = content
        self.driver = content.driver
        self.meta = content.meta
        self._hashes: OrderedDict[str, _HashState] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._background: set[asyncio.Future] = set()

    # -- session bookkeeping ----------------------------------------------------

    def _start_blocking(self, repo: str) -> str:
        upload_id = str(uuid.uuid4())
        self.driver.writer(upload_path(upload_id)).close()
        now = time.time()
        with self.meta.write() as db:
            db.execute(
                "INSERT INTO uploads (id, repo, started, updated) VALUES (?, ?, ?, ?)",
                (upload_id, repo, now, now),
            )
        return upload_id

    async def start(self, repo: str) -> str:
        return await asyncio.to_thread(self._start_blocking, repo)

    def check(self, repo: str, upload_id: str) -> None:
        """BLOB_UPLOAD_UNKNOWN unless ``upload_id`` is a live session of ``repo``."""
        if not UPLOAD_ID_RE.match(upload_id):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", upload_id)
        row = self.meta.one("SELECT repo FROM uploads WHERE id = ?", upload_id)
        if row is None or row[0] != repo:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", upload_id)

    def offset(self, upload_id: str) -> int:
        info = self.driver.stat(upload_path(upload_id))
        if info is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", upload_id)
        return info.size

    def _lock(self, upload_id: str) -> asyncio.Lock:
        lock = self._locks.get(upload_id)
        if lock is None:
            lock = self._locks[upload_id] = asyncio.Lock()
        return lock

    def _forget(self, upload_id: str) -> None:
        self._hashes.pop(upload_id, None)
        self._locks.pop(upload_id, None)

    def _remember(self, upload_id: str, state: _HashState) -> None:
        self._hashes[upload_id] = state
        self._hashes.move_to_end(upload_id)
        while len(self._hashes) > MAX_HASH_STATES:
            self._hashes.popitem(last=False)

    def _cancel_blocking(self, upload_id: str) -> bool:
        with self.meta.write() as db:
            deleted = db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,)).rowcount
        self.driver.delete(upload_dir(upload_id))
        return deleted > 0

    async def cancel(self, upload_id: str) -> bool:
        self._forget(upload_id)
        return await asyncio.to_thread(self._cancel_blocking, upload_id)

    def _touch(self, upload_id: str) -> None:
        with self.meta.write() as db:
            db.execute("UPDATE uploads SET updated = ? WHERE id = ?", (time.time(), upload_id))

    # -- data ---------------------------------------------------------------------

    async def _receive_into(
        self,
        writer: StorageWriter,
        upload_id: str,
        body: StreamReader,
        start: int | None,
        algorithm: str,
    ) -> int:
        """Append ``body`` to an open writer, continuing the session's hash; the new size."""
        offset = writer.size
        if start is not None and start != offset:
            raise RangeMismatch(offset)
        state = self._hashes.pop(upload_id, None)
        if state is not None and state.offset != offset:
            state = None
        if state is None and offset == 0:
            state = _HashState(algorithm, hashlib.new(algorithm), 0)
        count = await receive(body, writer, state.hasher if state else None)
        if state is not None:
            state.offset = offset + count
            self._remember(upload_id, state)
        return offset + count

    async def append(self, upload_id: str, body: StreamReader, start: int | None) -> int:
        """Append a request body (PATCH); ``start`` is the Content-Range start, if any."""
        async with self._lock(upload_id):
            writer = await asyncio.to_thread(self.driver.writer, upload_path(upload_id), True)
            try:
                offset = await self._receive_into(writer, upload_id, body, start, "sha256")
            finally:
                writer.close()
        await asyncio.to_thread(self._touch, upload_id)
        return offset

    def _rehash(self, upload_id: str, algorithm: str) -> Digest:
        hasher = hashlib.new(algorithm)
        with self.driver.open_read(upload_path(upload_id)) as stream:
            while chunk := stream.read(HASH_READ_CHUNK):
                hasher.update(chunk)
        return Digest(algorithm, hasher.hexdigest())

    async def finish(
        self,
        repo: str,
        upload_id: str,
        expected: Digest,
        body: StreamReader | None,
        start: int | None,
    ) -> int:
        """Append the last body, verify the digest, link the blob; its size.

        A mismatch deletes the whole session and raises DIGEST_INVALID: nothing is kept.
        """
        async with self._lock(upload_id):
            # The writer locks the session's data (across processes) until the blob is linked.
            writer = await asyncio.to_thread(self.driver.writer, upload_path(upload_id), True)
            try:
                if body is not None:
                    await self._receive_into(writer, upload_id, body, start, expected.algorithm)
                size = writer.size
                await asyncio.to_thread(writer.sync)
                state = self._hashes.pop(upload_id, None)
                if state and state.offset == size and state.algorithm == expected.algorithm:
                    actual = Digest(state.algorithm, state.hasher.hexdigest())
                else:
                    actual = await asyncio.to_thread(self._rehash, upload_id, expected.algorithm)
                if actual != expected:
                    self._forget(upload_id)
                    await asyncio.to_thread(self._cancel_blocking, upload_id)
                    raise RegistryError(
                        "DIGEST_INVALID", f"digest {expected} does not match content ({actual})"
                    )
                await asyncio.to_thread(
                    self.content.commit_upload, repo, upload_id, actual, size, time.time()
                )
            finally:
                writer.close()
        self._forget(upload_id)
        # Deleting a duplicate upload of a large blob takes a while: not on the request path.
        cleanup = asyncio.get_running_loop().run_in_executor(
            None, self.driver.delete, upload_dir(upload_id)
        )
        self._background.add(cleanup)
        cleanup.add_done_callback(self._background.discard)
        return size

    async def drain(self) -> None:
        """Wait for background clean-ups (at shutdown)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
