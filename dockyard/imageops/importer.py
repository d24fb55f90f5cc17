"""`import`: a flat rootfs tar (file, stdin or URL) becomes a one-layer image."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import BinaryIO

from dockyard import reference
from dockyard.digest import Digest
from dockyard.errors import InvalidArgument, NotFound
from dockyard.imageops.changes import apply_changes
from dockyard.imageops.configs import imported_image_config
from dockyard.store import Store
from dockyard.timeutil import now_rfc3339


class _Peeked:
    """A stream with its first bytes already read, so emptiness can be told in advance."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = io.BytesIO(head)
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        data = self._head.read(size)
        if size < 0:
            return data + self._rest.read()
        if len(data) < size:
            data += self._rest.read(size - len(data))
        return data


def open_source(source: str) -> tuple[BinaryIO, str]:
    """The stream for FILE, '-' or a URL, and the name that goes into the comment."""
    if source == "-":
        return sys.stdin.buffer, "-"
    if source.startswith(("http://", "https://")):
        import urllib.request

        try:
            return urllib.request.urlopen(source, timeout=60), source  # noqa: S310
        except OSError as error:
            raise NotFound(f"Get {source!r}: {error}") from None
    try:
        # The docker CLI uploads a file as the request body: the daemon sees "-".
        return open(source, "rb"), "-"
    except FileNotFoundError:
        raise NotFound(f"open {source}: no such file or directory") from None
    except IsADirectoryError:
        raise InvalidArgument(f"read {source}: is a directory") from None


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
    if isinstance(source, str):
        stream, origin = open_source(source)
    else:
        stream, origin = source, "-"
    try:
        head = stream.read(512)
        if not head:
            layer = store.add_empty_layer()
        else:
            layer = store.add_layer_from_tar(_Peeked(head, stream), None)  # type: ignore[arg-type]
    finally:
        if stream is not sys.stdin.buffer and isinstance(source, str):
            stream.close()
    created = now_rfc3339()
    comment = message if message else f"Imported from {origin}"
    config = imported_image_config(created, comment, str(layer.diff_id), container_config)
    return store.add_image(config, None, tag)


__all__ = ["import_image", "open_source", "Path"]
