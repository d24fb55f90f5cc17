"""`import`: a copy from a flat rootfs tar (places/rootfs_tar.py: file, stdin or URL)
into the local store, as a one-layer image with Docker's import config."""

from __future__ import annotations

import sys
from typing import BinaryIO

from dockyard import reference
from dockyard.digest import Digest
from dockyard.errors import InvalidArgument
from dockyard.imageops.changes import apply_changes
from dockyard.imageops.configs import imported_image_config
from dockyard.imageops.copy import run_copy
from dockyard.places.rootfs_tar import RootfsTarSource, open_rootfs
from dockyard.places.store import StoreDestination
from dockyard.store import Store
from dockyard.timeutil import now_rfc3339


def import_image(
    store: Store,
    source: str | BinaryIO,
    repo_tag: str | None = None,
    message: str | None = None,
    changes: list[str] | None = None,
) -> Digest:
    tag = reference.parse(repo_tag).with_default_tag() if repo_tag else None
    if tag is not None and tag.digest is not None:
        raise InvalidArgument("cannot import digest reference")
    container_config = apply_changes({}, changes or [])
    stream, origin = open_rootfs(source) if isinstance(source, str) else (source, "-")
    comment = message if message else f"Imported from {origin}"

    def config_for(diff_id: Digest) -> bytes:
        created = now_rfc3339()
        return imported_image_config(created, comment, str(diff_id), container_config)

    destination = StoreDestination(store)
    try:
        [stored] = run_copy(RootfsTarSource(stream, config_for, [tag] if tag else []), destination)
    finally:
        destination.close()
        if stream is not sys.stdin.buffer and isinstance(source, str):
            stream.close()
    return stored.image_id
