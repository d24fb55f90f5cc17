"""How a layer says "deleted": the whiteout names of the OCI image spec (and Docker's
aufs-era metadata prefix), and the overlayfs xattr that marks an opaque directory in
an upper directory. The one place these spellings live."""

from __future__ import annotations

import os

WHITEOUT_PREFIX = b".wh."  # .wh.NAME hides NAME of the layers below
WHITEOUT_META_PREFIX = b".wh..wh."  # aufs bookkeeping (.wh..wh.plnk, ...), never a file
OPAQUE_MARKER = b".wh..wh..opq"  # hides everything the layers below have in its directory
OPAQUE_XATTR = "trusted.overlay.opaque"  # overlayfs: "y" on an opaque upper directory


def is_opaque(fd: int) -> bool:
    """Whether the open directory carries overlayfs's opaque mark."""
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False
