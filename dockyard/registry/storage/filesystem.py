"""The filesystem storage driver: objects are files under a root directory."""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from dockyard.registry.storage.base import FileInfo, StorageDriver, StorageWriter

WRITEBACK_STEP = 8 << 20  # start writing back to disk every 8 MiB, so the final fsync is short
_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load_sync_file_range()


class _FileWriter(StorageWriter):
    def __init__(self, full_path: str, append: bool) -> None:
        self._path = full_path
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        self._fd = os.open(full_path, flags | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # one writer at a time, across processes
        except BaseException:
            os.close(self._fd)
            raise
        self.size = os.fstat(self._fd).st_size if append else 0
        self._written_back = self.size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writev([data])

    def writev(self, buffers: list) -> None:
        views = [memoryview(b) for b in buffers if len(b)]
        while views:
            written = os.writev(self._fd, views[:1024])
            self.size += written
            while views and written >= len(views[0]):
                written -= len(views[0])
                views.pop(0)
            if written:
                views[0] = views[0][written:]
        if _sync_file_range is not None and self.size - self._written_back >= WRITEBACK_STEP:
            _sync_file_range(
                self._fd,
                self._written_back,
                self.size - self._written_back,
                _SYNC_FILE_RANGE_WRITE,
            )
            self._written_back = self.size

    def sync(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def cancel(self) -> None:
        self.close()
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            pass


class FilesystemDriver(StorageDriver):
    """Objects live in files under ``root``; writes are atomic by rename."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)

    def _full(self, path: str) -> str:
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise ValueError(f"invalid storage path: {path!r}")
        return os.path.join(self.root, *parts)

    def local_path(self, path: str) -> str | None:
        return self._full(path)

    def stat(self, path: str) -> FileInfo | None:
        try:
            st = os.stat(self._full(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return FileInfo(path, st.st_size, st.st_mtime)

    def get(self, path: str) -> bytes:
        with open(self._full(path), "rb") as stream:
            return stream.read()

    def put(self, path: str, data: bytes) -> None:
        full = self._full(path)
        directory = os.path.dirname(full)
        os.makedirs(directory, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp, full)
        except BaseException:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
            raise

    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        stream = open(self._full(path), "rb")  # noqa: SIM115
        if offset:
            stream.seek(offset)
        return stream

    def writer(self, path: str, append: bool = False) -> StorageWriter:
        full = self._full(path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return _FileWriter(full, append)

    def move(self, source: str, destination: str) -> None:
        full_dest = self._full(destination)
        os.makedirs(os.path.dirname(full_dest), exist_ok=True)
        os.replace(self._full(source), full_dest)

    def delete(self, path: str) -> None:
        full = self._full(path)
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.unlink(full)
        except FileNotFoundError:
            pass

    def list(self, prefix: str) -> list[str]:
        try:
            return sorted(os.listdir(self._full(prefix)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def walk(self, prefix: str) -> Iterator[FileInfo]:
        base = self._full(prefix)
        for directory, _dirs, files in os.walk(base):
            for name in files:
                full = os.path.join(directory, name)
                try:
                    st = os.stat(full)
                except FileNotFoundError:
                    continue
                relative = os.path.relpath(full, self.root).replace(os.sep, "/")
                yield FileInfo(relative, st.st_size, st.st_mtime)
