"""Storage drivers: where the registry keeps blob bytes and upload data."""

from dockyard.registry.storage.base import FileInfo, StorageDriver, StorageWriter

__all__ = ["FileInfo", "StorageDriver", "StorageWriter"]
