"""Limits that keep a hostile layer from exhausting disk, memory or inodes."""

from __future__ import annotations

from dockyard.datarecord import dataclass


@dataclass(frozen=True)
class Limits:
    """Caps applied while reading a layer; exceeding one refuses the layer."""

    max_bytes: int = 64 << 30  # uncompressed tar bytes, and also the sum of entry sizes
    max_entries: int = 2_000_000
    max_name: int = 4096  # bytes in a path or link target


DEFAULT_LIMITS = Limits()
