"""Resolve a path inside a container's root as the container would see it.

Symlinks are followed with the root as "/" so that nothing resolves outside
the root (like filepath-securejoin, which Docker uses for `cp`).
"""

from __future__ import annotations

import os
import posixpath

from dockyard.errors import InvalidArgument

MAX_SYMLINKS = 255


def secure_join(root: str, path: str, follow_last: bool = True) -> str:
    """Host path of container path `path` under `root`, symlinks resolved inside root."""
    root = os.path.abspath(root)
    pending = [part for part in path.split("/") if part not in ("", ".")]
    pending.reverse()
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        is_last = not pending
        if (follow_last or not is_last) and os.path.islink(candidate):
            links += 1
            if links > MAX_SYMLINKS:
                raise InvalidArgument(f"too many levels of symbolic links: {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")]
            pending.extend(reversed(parts))
            continue
        resolved.append(part)
    return os.path.join(root, *resolved) if resolved else root


def clean(path: str) -> str:
    return posixpath.normpath("/" + path)
