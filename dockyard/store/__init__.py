"""The local store: content-addressed blobs, layer directories, SQLite metadata."""

from dockyard.store.records import ContainerRow, ImageRecord, LayerRecord
from dockyard.store.store import Store

__all__ = ["ContainerRow", "ImageRecord", "LayerRecord", "Store"]
