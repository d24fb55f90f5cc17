"""Content-addressed blobs in the storage driver, linked to repositories in metadata.

Invariants:

- a blob file is named by the digest of its bytes: uploads are verified before
  they are moved into ``blobs/``;
- a repository serves a blob only when it is linked to it (``repo_blobs``);
- moving a blob into place, linking it and (in gc) deleting it all happen while
  holding the metadata write lock, so a push and a sweep never interleave.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from dockyard.digest import Digest
from dockyard.registry.metadata import Metadata, Transaction
from dockyard.registry.storage import StorageDriver

CACHE_BYTES = 32 << 20  # manifests kept in memory per process (drivers without local files)


def blob_path(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}/data"


def upload_path(upload_id: str) -> str:
    return f"uploads/{upload_id}/data"


def upload_dir(upload_id: str) -> str:
    return f"uploads/{upload_id}"


class Content:
    """Blob bytes (driver) plus their links (metadata)."""

    def __init__(self, driver: StorageDriver, meta: Metadata) -> None:
        self.driver = driver
        self.meta = meta
        self._cache: OrderedDict[Digest, bytes] = OrderedDict()
        self._cached_bytes = 0
        self._cache_lock = threading.Lock()

    # -- reads (cheap: safe on the event loop) ---------------------------------

    def linked_size(self, repo: str, digest: Digest) -> int | None:
        """Size of a blob the repository may serve, None when unknown there."""
        found = self.linked(repo, digest)
        return found[0] if found else None

    def linked(self, repo: str, digest: Digest) -> tuple[int, float] | None:
        """(size, time linked) of a blob the repository may serve."""
        row = self.meta.one(
            "SELECT b.size, r.linked FROM repo_blobs r JOIN blobs b ON b.digest = r.digest "
            "WHERE r.repo = ? AND r.digest = ?",
            repo,
            str(digest),
        )
        return (row[0], row[1]) if row else None

    def global_size(self, digest: Digest) -> int | None:
        row = self.meta.one("SELECT size FROM blobs WHERE digest = ?", str(digest))
        return row[0] if row else None

    def local_path(self, digest: Digest) -> str | None:
        return self.driver.local_path(blob_path(digest))

    # -- writes (blocking: call from a worker thread) --------------------------

    def _place(self, db: Transaction, source: str, digest: Digest, size: int, now: float):
        """Move a verified object into ``blobs/`` unless the blob is already there
        (then the source stays: the caller deletes it outside the lock)."""
        destination = blob_path(digest)
        if self.driver.stat(destination) is None:
            self.driver.move(source, destination)
        db.execute(
            "INSERT INTO blobs (digest, size, created) VALUES (?, ?, ?) "
            "ON CONFLICT (digest) DO NOTHING",
            (str(digest), size, now),
        )

    def _link(self, db: Transaction, repo: str, digest: Digest, now: float) -> None:
        db.execute(
            "INSERT INTO repo_blobs (repo, digest, linked) VALUES (?, ?, ?) "
            "ON CONFLICT (repo, digest) DO UPDATE SET linked = excluded.linked",
            (repo, str(digest), now),
        )

    def commit_upload(
        self, repo: str, upload_id: str, digest: Digest, size: int, now: float
    ) -> None:
        """Move a verified upload into place, link it to ``repo``, end the session.

        The caller deletes ``upload_dir(upload_id)`` afterwards (it still holds the
        data when the blob was already there).
        """
        with self.meta.write() as db:
            self._place(db, upload_path(upload_id), digest, size, now)
            self._link(db, repo, digest, now)
            db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))

    def put_verified_bytes(
        self, db: Transaction, repo: str, digest: Digest, data: bytes, now: float
    ) -> None:
        """Store small bytes (a manifest) inside the caller's write transaction."""
        destination = blob_path(digest)
        info = self.driver.stat(destination)
        if info is None or info.size != len(data):
            self.driver.put(destination, data)  # atomic: readers see all of it or nothing
        db.execute(
            "INSERT INTO blobs (digest, size, created) VALUES (?, ?, ?) "
            "ON CONFLICT (digest) DO NOTHING",
            (str(digest), len(data), now),
        )

    def mount(self, repo: str, source: str, digest: Digest, now: float) -> int | None:
        """Link a blob of ``source`` to ``repo``; its size, or None when ``source`` lacks it."""
        with self.meta.write() as db:
            row = db.execute(
                "SELECT b.size FROM repo_blobs r JOIN blobs b ON b.digest = r.digest "
                "WHERE r.repo = ? AND r.digest = ?",
                (source, str(digest)),
            ).fetchone()
            if row is None or self.driver.stat(blob_path(digest)) is None:
                return None
            self._link(db, repo, digest, now)
            return row[0]

    def touch(self, repo: str, digest: Digest, now: float) -> bool:
        """Refresh a link so gc keeps the blob for its grace period; False when it is gone.

        A client told "this blob exists" skips its upload; gc must not take it away before
        the client's manifest names it.
        """
        with self.meta.write() as db:
            updated = db.execute(
                "UPDATE repo_blobs SET linked = ? WHERE repo = ? AND digest = ?",
                (now, repo, str(digest)),
            ).rowcount
            return bool(updated) and self.driver.stat(blob_path(digest)) is not None

    def unlink(self, repo: str, digest: Digest) -> bool:
        """Remove a blob from a repository (the bytes stay until gc)."""
        with self.meta.write() as db:
            cursor = db.execute(
                "DELETE FROM repo_blobs WHERE repo = ? AND digest = ?", (repo, str(digest))
            )
            return cursor.rowcount > 0

    def read(self, digest: Digest) -> bytes:
        """Small bytes (a manifest). Kept in memory when the driver has no local files:
        bytes named by their digest never change, and every read is resolved through
        the metadata first, so a deleted manifest is never served from here."""
        path = blob_path(digest)
        if self.driver.local_path(path) is not None:
            return self.driver.get(path)
        with self._cache_lock:
            data = self._cache.get(digest)
            if data is not None:
                self._cache.move_to_end(digest)
                return data
        data = self.driver.get(path)
        with self._cache_lock:
            self._cache[digest] = data
            self._cached_bytes += len(data)
            while self._cached_bytes > CACHE_BYTES:
                _, dropped = self._cache.popitem(last=False)
                self._cached_bytes -= len(dropped)
        return data
