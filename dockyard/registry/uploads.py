"""Upload sessions: start, append (streamed or chunked), finish (verify, then link), cancel.

A session is a row in ``uploads`` plus an object ``uploads/<id>/data`` in the driver.
Every request may land on another node, so what continues a session lives in its row
(``upload_state``): the size, the driver's state where it cannot append natively (S3:
the multipart upload, its parts, the buffered tail) and the running SHA-256's state
(``hashstate``). A request that finds neither (another algorithm, a node without
libcrypto) still succeeds: the data is hashed again from storage when the upload ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator

from aiohttp import StreamReader

from dockyard.digest import Digest
from dockyard.registry import hashstate, upload_state
from dockyard.registry.content import Content, upload_dir, upload_path
from dockyard.registry.errors import RegistryError
from dockyard.registry.storage import StorageWriter
from dockyard.registry.streaming import receive
from dockyard.registry.upload_state import UploadState

UPLOAD_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
HASH_READ_CHUNK = 4 << 20


class RangeMismatch(Exception):
    """A chunk that does not start where the upload ends (the HTTP layer answers 416)."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"upload is at offset {offset}")
        self.offset = offset


class _SessionLock:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class Uploads:
    def __init__(self, content: Content) -> None:
        self.content = content
        self.driver = content.driver
        self.meta = content.meta
        self._locks: dict[str, _SessionLock] = {}
        self._background: set[asyncio.Future] = set()

    # -- session bookkeeping ----------------------------------------------------

    def _start_blocking(self, repo: str) -> str:
        upload_id = str(uuid.uuid4())
        self.driver.writer(upload_path(upload_id)).close()  # gc finds the session by it
        now = time.time()
        fresh = "{}" if self.driver.needs_upload_state else None  # nothing to look up
        with self.meta.write() as db:
            db.execute(
                "INSERT INTO uploads (id, repo, started, updated, driver_state) "
                "VALUES (?, ?, ?, ?, ?)",
                (upload_id, repo, now, now, fresh),
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

    def _load(self, upload_id: str) -> UploadState:
        state = upload_state.load(self.meta, upload_id)
        if state is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", upload_id)
        return state

    def offset(self, upload_id: str) -> int:
        if self.driver.needs_upload_state:
            return self._load(upload_id).size  # the object exists only once complete
        info = self.driver.stat(upload_path(upload_id))
        if info is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", upload_id)
        return info.size

    @contextlib.asynccontextmanager
    async def _locked(self, upload_id: str) -> AsyncIterator[None]:
        """One request at a time per session in this process. The lock lives only while a
        request holds or awaits it: sessions a client abandons leave nothing behind."""
        entry = self._locks.get(upload_id)
        if entry is None:
            entry = self._locks[upload_id] = _SessionLock()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if not entry.users:
                del self._locks[upload_id]

    @property
    def sessions_in_use(self) -> int:
        """Sessions a request of this process is working on (or waiting for) now."""
        return len(self._locks)

    def _cancel_blocking(self, upload_id: str) -> bool:
        with self.meta.write() as db:
            deleted = db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,)).rowcount
        self.driver.delete(upload_dir(upload_id))
        return deleted > 0

    async def cancel(self, upload_id: str) -> bool:
        return await asyncio.to_thread(self._cancel_blocking, upload_id)

    # -- data ---------------------------------------------------------------------

    def _open(self, upload_id: str) -> tuple[StorageWriter, UploadState]:
        state = self._load(upload_id)
        writer = self.driver.resume_writer(upload_path(upload_id), state.driver_state)
        return writer, state

    def _hasher(self, state: UploadState, offset: int, algorithm: str):
        """The running hash of the session's bytes so far; None when it must be rebuilt."""
        if offset == 0:
            return hashstate.new_hasher(algorithm)
        if algorithm == "sha256" and state.size == offset:
            return hashstate.ResumableSha256.restore(state.hash_state)
        return None

    def _suspend(self, upload_id: str, writer: StorageWriter, before: UploadState, hasher) -> bool:
        """Keep what this request wrote for the next one; False when another request
        moved the session on meanwhile (only drivers with state can tell)."""
        driver_state = writer.suspend()
        expected = before.size if self.driver.needs_upload_state else None
        hash_state = hashstate.export_state(hasher) if hasher is not None else None
        return upload_state.save(
            self.meta, upload_id, writer.size, driver_state, hash_state, expected_size=expected
        )

    async def _receive_into(
        self, writer: StorageWriter, body: StreamReader, start: int | None, hasher
    ) -> int:
        """Append ``body`` to an open writer, continuing ``hasher``; the new size."""
        offset = writer.size
        if start is not None and start != offset:
            raise RangeMismatch(offset)
        count = await receive(body, writer, hasher)
        return offset + count

    async def append(self, upload_id: str, body: StreamReader, start: int | None) -> int:
        """Append a request body (PATCH); ``start`` is the Content-Range start, if any."""
        async with self._locked(upload_id):
            writer, before = await asyncio.to_thread(self._open, upload_id)
            hasher = self._hasher(before, writer.size, "sha256")
            try:
                offset = await self._receive_into(writer, body, start, hasher)
            finally:
                # what arrived is kept even when the body was cut short
                saved = await asyncio.to_thread(self._suspend, upload_id, writer, before, hasher)
            if not saved:
                raise RangeMismatch(await asyncio.to_thread(self.offset, upload_id))
        return offset

    def _rehash(self, upload_id: str, algorithm: str) -> Digest:
        hasher = hashstate.new_hasher(algorithm)
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
        async with self._locked(upload_id):
            # The filesystem writer locks the session's data (across processes) until the
            # blob is linked; the S3 writer completes its multipart upload in ``sync``.
            writer, before = await asyncio.to_thread(self._open, upload_id)
            hasher = self._hasher(before, writer.size, expected.algorithm)
            synced = False
            try:
                if body is not None:
                    await self._receive_into(writer, body, start, hasher)
                size = writer.size
                await asyncio.to_thread(writer.sync)
                synced = True
                if hasher is not None:
                    actual = Digest(expected.algorithm, hasher.hexdigest())
                else:
                    actual = await asyncio.to_thread(self._rehash, upload_id, expected.algorithm)
                if actual != expected:
                    await asyncio.to_thread(self._cancel_blocking, upload_id)
                    raise RegistryError(
                        "DIGEST_INVALID", f"digest {expected} does not match content ({actual})"
                    )
                await asyncio.to_thread(
                    self.content.commit_upload, repo, upload_id, actual, size, time.time()
                )
            finally:
                if synced:
                    writer.close()
                else:  # keep what arrived: the client may send the rest again
                    await asyncio.to_thread(self._suspend, upload_id, writer, before, hasher)
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
