"""Reading a directory tree for a layer (create, snapshot, export's owner lookup):
how entries are opened, which xattrs travel, how exclude paths are normalised."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable

OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
OPEN_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Never carried into a layer: overlayfs bookkeeping, and host-specific labels.
SKIPPED_XATTRS = (b"trusted.overlay.", b"user.overlay.", b"security.selinux")


def normalise_exclude(paths: Iterable[str]) -> set[bytes]:
    """Relative paths as the tree walk compares them: no empty or "." parts."""
    result = set()
    for path in paths:
        parts = [part for part in os.fsencode(path).split(b"/") if part and part != b"."]
        if parts:
            result.add(b"/".join(parts))
    return result


def carried_xattrs(target: bytes | int) -> list[tuple[bytes, bytes]]:
    """The xattrs to carry, sorted; ``target`` is an open descriptor or a path (not followed)."""
    follow = isinstance(target, int)  # descriptors take no follow_symlinks argument
    try:
        names = os.listxattr(target) if follow else os.listxattr(target, follow_symlinks=False)
    except OSError as error:
        if error.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOENT):
            return []
        raise
    if not names:
        return []
    found = []
    for name in sorted(names):
        key = name.encode("utf-8", "surrogateescape")
        if key.startswith(SKIPPED_XATTRS):
            continue
        try:
            if follow:
                value = os.getxattr(target, name)
            else:
                value = os.getxattr(target, name, follow_symlinks=False)
        except OSError as error:
            if error.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
        else:
            found.append((key, value))
    return found
