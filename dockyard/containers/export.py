"""`export`: the container's merged filesystem as one flat tar."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from dockyard.containers.lifecycle import find
from dockyard.runtime import linux, rootfs
from dockyard.store import Store


@contextlib.contextmanager
def merged_view(directory: Path) -> Iterator[Path]:
    """The container's merged tree: its live mount, or a read-only overlay made for the call."""
    merged = directory / "merged"
    if linux.is_mountpoint(merged):
        yield merged
        return
    with rootfs.mounted_readonly(directory, directory / f"ro-{os.getpid()}") as view:
        yield view


def export_container(store: Store, name: str, out: BinaryIO) -> None:
    from dockyard.layers.create import create_layer

    _, directory = find(store, name)
    with merged_view(directory) as view:
        create_layer(view, out, overlay_upper=False)
