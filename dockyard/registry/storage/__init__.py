"""Storage drivers: where the registry keeps blob bytes and upload data."""

from __future__ import annotations

from dockyard.registry.storage.base import FileInfo, StorageDriver, StorageWriter
from dockyard.registry.storage.s3location import is_s3_url

__all__ = ["FileInfo", "StorageDriver", "StorageWriter", "open_driver"]


def open_driver(storage: str, s3_keys: dict[str, str] | None = None) -> StorageDriver:
    """The driver for ``--storage``: ``s3://BUCKET[/PREFIX]?...`` or a directory.

    Only the driver chosen is imported (botocore alone costs 0.3 s): a backend
    choice, not a start-up trick."""
    if is_s3_url(storage):
        from dockyard.registry.storage.s3 import open_s3

        return open_s3(storage, **(s3_keys or {}))
    from dockyard.registry.storage.filesystem import FilesystemDriver

    return FilesystemDriver(storage)
