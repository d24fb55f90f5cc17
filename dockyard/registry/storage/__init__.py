"""Storage drivers: where the registry keeps blob bytes and upload data."""

from __future__ import annotations

from dockyard.registry.storage.base import FileInfo, StorageDriver, StorageWriter
from dockyard.registry.storage.filesystem import FilesystemDriver
from dockyard.registry.storage.s3 import open_s3
from dockyard.registry.storage.s3location import is_s3_url

__all__ = ["FileInfo", "StorageDriver", "StorageWriter", "open_driver"]


def open_driver(storage: str, s3_keys: dict[str, str] | None = None) -> StorageDriver:
    """The driver for ``--storage``: ``s3://BUCKET[/PREFIX]?...`` or a directory."""

    if is_s3_url(storage):
        return open_s3(storage, **(s3_keys or {}))

    return FilesystemDriver(storage)
