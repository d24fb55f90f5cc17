"""Content-addressed blobs: written to a temp file, hashed while written, fsynced, renamed."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dockyard.digest import Digest, HashingWriter
from dockyard.errors import InvalidArchive
from dockyard.faults import fault_point

COPY_CHUNK = 1 << 20


class BlobWriter:
    """A temp file in the store; `commit()` verifies the digest and renames it into place."""

    def __init__(self, blobs: BlobStore, algorithm: str = "sha256") -> None:
        self._blobs = blobs
        fd, name = tempfile.mkstemp(prefix="blob-", dir=blobs.tmp)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self.hashing = HashingWriter(self._file, algorithm)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self.hashing.write(data)

    def flush(self) -> None:
        self._file.flush()

    @property
    def size(self) -> int:
        return self.hashing.count

    def seal(self, expected: Digest | None = None) -> Digest:
        """Verify the digest and make the bytes durable; the blob is not visible yet."""
        digest = self.hashing.digest()
        if expected is not None and digest != expected:
            self.abort()
            raise InvalidArchive(f"digest mismatch: expected {expected}, got {digest}")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._digest = digest
        return digest

    def publish(self) -> Digest:
        """Rename a sealed blob into place (callers that must order this against a
        concurrent removal do it inside a store transaction)."""
        final = self._blobs.path(self._digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        fault_point("blob.before-rename")
        os.replace(self.path, final)
        fault_point("blob.after-rename")
        return self._digest

    def commit(self, expected: Digest | None = None) -> Digest:
        self.seal(expected)
        return self.publish()

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


class BlobStore:
    def __init__(self, root: Path, tmp: Path) -> None:
        self.root = root
        self.tmp = tmp

    def path(self, digest: Digest) -> Path:
        return self.root / digest.algorithm / digest.hex

    def exists(self, digest: Digest) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: Digest) -> int:
        return self.path(digest).stat().st_size

    def read(self, digest: Digest) -> bytes:
        return self.path(digest).read_bytes()

    def open(self, digest: Digest) -> BinaryIO:
        return open(self.path(digest), "rb")

    def put_bytes(self, data: bytes, expected: Digest | None = None) -> Digest:
        digest = expected or Digest.of_bytes(data)
        if self.exists(digest):
            return digest
        writer = BlobWriter(self, digest.algorithm)
        writer.write(data)
        return writer.commit(digest)

    @contextmanager
    def writer(self, algorithm: str = "sha256") -> Iterator[BlobWriter]:
        writer = BlobWriter(self, algorithm)
        try:
            yield writer
        finally:
            writer.abort()  # no-op after commit: the temp file was renamed away

    def put_stream(self, stream: BinaryIO, expected: Digest | None = None) -> Digest:
        with self.writer() as writer:
            shutil.copyfileobj(stream, writer, COPY_CHUNK)  # type: ignore[misc]
            return writer.commit(expected)

    def remove(self, digest: Digest) -> None:
        self.path(digest).unlink(missing_ok=True)

    def all(self) -> Iterator[Digest]:
        for algorithm_dir in self.root.iterdir() if self.root.is_dir() else []:
            for entry in algorithm_dir.iterdir():
                try:
                    yield Digest.parse(f"{algorithm_dir.name}:{entry.name}")
                except Exception:
                    continue
