"""Content-addressed blobs: written to a temp file, hashed while written, fsynced, renamed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard.digest import Digest, HashingWriter
from dockyard.errors import InvalidArchive
from dockyard.faults import fault_point

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import BinaryIO

COPY_CHUNK = 1 << 20


class BlobWriter:
    """A temp file in the store; `commit()` verifies the digest and renames it into place.

    With ``hashed=False`` the writer does not hash: the caller hashes exactly the
    bytes it writes and passes that digest to `seal` (commit's snapshot does, so
    that 100 MB are not hashed twice)."""

    def __init__(self, blobs: BlobStore, algorithm: str = "sha256", hashed: bool = True) -> None:
        import tempfile  # here, not at the top: tempfile costs start-up time

        self._blobs = blobs
        fd, name = tempfile.mkstemp(prefix="blob-", dir=blobs.tmp)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self.hashing = HashingWriter(self._file, algorithm) if hashed else None
        self._written = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.hashing is not None:
            return self.hashing.write(data)
        self._written += len(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def copy_from_fd(self, fd: int, offset: int, count: int) -> None:
        """Append ``count`` bytes of the file ``fd`` from ``offset``, copied by the kernel
        (only for an unhashed writer: the caller hashes those bytes itself)."""
        if self.hashing is not None:
            raise ValueError("a hashed blob must see its bytes")
        self._file.flush()
        out = self._file.fileno()
        end = offset + count
        while offset < end:
            sent = os.sendfile(out, fd, offset, end - offset)
            if not sent:
                raise OSError(f"the source ended {end - offset} bytes early")
            offset += sent
        self._written += count

    @property
    def size(self) -> int:
        return self.hashing.count if self.hashing is not None else self._written

    def seal(self, expected: Digest | None = None) -> Digest:
        """Verify the digest and make the bytes durable; the blob is not visible yet."""
        if self.hashing is None:
            if expected is None:
                raise ValueError("an unhashed blob needs the digest its writer computed")
            digest = expected
        else:
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
    def writer(self, algorithm: str = "sha256", hashed: bool = True) -> Iterator[BlobWriter]:
        writer = BlobWriter(self, algorithm, hashed)
        try:
            yield writer
        finally:
            writer.abort()  # no-op after commit: the temp file was renamed away

    def put_stream(self, stream: BinaryIO, expected: Digest | None = None) -> Digest:
        import shutil

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
