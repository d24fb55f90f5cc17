"""The storage-driver interface.

A driver stores opaque byte objects under slash-separated paths. It knows nothing
about digests or repositories. Every method is blocking: the registry calls the
slow ones from worker threads. The interface is small enough for an S3-compatible
driver (objects, ranged GETs, multipart uploads, copy+delete for ``move``);
``local_path`` lets the server use sendfile when the bytes are a local file.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: float


class StorageWriter(abc.ABC):
    """An object being written. Bytes are appended; ``commit`` makes them durable."""

    size: int

    @abc.abstractmethod
    def write(self, data: bytes | bytearray | memoryview) -> None: ...

    def writev(self, buffers: list) -> None:
        """Write several buffers in order (one system call where the driver can)."""
        for buffer in buffers:
            self.write(buffer)

    @abc.abstractmethod
    def sync(self) -> None:
        """Make the bytes written so far durable, keeping the writer open."""

    def commit(self) -> None:
        """Flush and make the written bytes durable (fsync); the writer is then closed."""
        self.sync()
        self.close()

    @abc.abstractmethod
    def close(self) -> None:
        """Close without the durability guarantee; the bytes written so far stay."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Close and delete the object."""

    def suspend(self) -> dict | None:
        """Close, keeping the bytes for ``StorageDriver.resume_writer``; what it needs to
        continue (None when the driver appends to objects natively)."""
        self.close()
        return None

    def __enter__(self) -> StorageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StorageDriver(abc.ABC):
    """Blocking object storage keyed by slash-separated relative paths."""

    # True when an object written in pieces (``resume_writer``) is continued from the
    # state its last writer's ``suspend`` returned, which the caller keeps (S3: the
    # multipart upload); False when ``writer(path, append=True)`` simply appends.
    needs_upload_state = False

    @abc.abstractmethod
    def stat(self, path: str) -> FileInfo | None:
        """Size and modification time of an object, None when absent."""

    @abc.abstractmethod
    def get(self, path: str) -> bytes:
        """The whole object; raises FileNotFoundError."""

    @abc.abstractmethod
    def put(self, path: str, data: bytes) -> None:
        """Write an object atomically (readers see the old or the new bytes, never a mix)."""

    @abc.abstractmethod
    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        """A reader positioned at ``offset``; raises FileNotFoundError."""

    @abc.abstractmethod
    def writer(self, path: str, append: bool = False) -> StorageWriter:
        """A writer for ``path``; ``append`` continues an existing object. A writer holds
        the object exclusively (across processes) until it is closed."""

    @abc.abstractmethod
    def move(self, source: str, destination: str) -> None:
        """Atomically replace ``destination`` by ``source``."""

    @abc.abstractmethod
    def delete(self, path: str) -> None:
        """Delete an object or everything under a prefix; absent is not an error."""

    @abc.abstractmethod
    def list(self, prefix: str) -> list[str]:
        """The direct children (names, not paths) under ``prefix``; [] when absent."""

    @abc.abstractmethod
    def walk(self, prefix: str) -> Iterator[FileInfo]:
        """Every object under ``prefix``, recursively."""

    def resume_writer(self, path: str, state: dict | None) -> StorageWriter:
        """Continue an object written in pieces, possibly by another process, from the
        ``state`` the previous piece's ``suspend`` returned."""
        return self.writer(path, append=True)

    def redirect_url(self, path: str) -> str | None:
        """A URL the client may fetch the object from itself (HTTP 307), or None."""
        return None

    def describe(self) -> str:
        """Where the objects are, for messages."""
        return type(self).__name__

    def close(self) -> None:  # noqa: B027 - most drivers hold nothing to release
        """Release connections and threads."""

    def local_path(self, path: str) -> str | None:
        """A local filesystem path for sendfile, or None when the driver has none."""
        return None

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        with self.open_read(path, offset) as stream:
            return stream.read(length)
