"""An in-memory storage driver without local files: stands in for object storage (S3)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator

from dockyard.registry.storage.base import FileInfo, StorageDriver, StorageWriter


class _Writer(StorageWriter):
    def __init__(self, driver: MemoryDriver, path: str, append: bool) -> None:
        self._driver = driver
        self._path = path
        with driver.lock:
            existing = driver.objects.get(path, (b"", 0.0))[0] if append else b""
            driver.objects[path] = (existing, time.time())
        self._buffer = bytearray(existing)
        self.size = len(self._buffer)

    def write(self, data) -> None:
        self._buffer += data
        self.size = len(self._buffer)
        with self._driver.lock:
            self._driver.objects[self._path] = (bytes(self._buffer), time.time())

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass

    def cancel(self) -> None:
        self._driver.delete(self._path)


class MemoryDriver(StorageDriver):
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, float]] = {}
        self.lock = threading.Lock()

    def stat(self, path: str) -> FileInfo | None:
        with self.lock:
            found = self.objects.get(path)
            if found is not None:
                return FileInfo(path, len(found[0]), found[1])
            children = [m for p, (_, m) in self.objects.items() if p.startswith(path + "/")]
        return FileInfo(path, 0, max(children)) if children else None

    def get(self, path: str) -> bytes:
        with self.lock:
            if path not in self.objects:
                raise FileNotFoundError(path)
            return self.objects[path][0]

    def put(self, path: str, data: bytes) -> None:
        with self.lock:
            self.objects[path] = (bytes(data), time.time())

    def open_read(self, path: str, offset: int = 0):
        stream = io.BytesIO(self.get(path))
        stream.seek(offset)
        return stream

    def writer(self, path: str, append: bool = False) -> StorageWriter:
        return _Writer(self, path, append)

    def move(self, source: str, destination: str) -> None:
        with self.lock:
            self.objects[destination] = self.objects.pop(source)

    def delete(self, path: str) -> None:
        with self.lock:
            for key in [k for k in self.objects if k == path or k.startswith(path + "/")]:
                del self.objects[key]

    def list(self, prefix: str) -> list[str]:
        with self.lock:
            names = {
                k[len(prefix) + 1 :].split("/")[0]
                for k in self.objects
                if k.startswith(prefix + "/")
            }
        return sorted(names)

    def walk(self, prefix: str) -> Iterator[FileInfo]:
        with self.lock:
            items = [(k, v) for k, v in self.objects.items() if k.startswith(prefix + "/")]
        for key, (data, mtime) in items:
            yield FileInfo(key, len(data), mtime)
