"""Process tuning for the server: keep large buffers in the heap (fewer page faults).

Each socket read of an upload allocates a buffer of up to 256 KiB; glibc serves such
sizes with mmap (or trims the heap after they are freed), so every buffer costs page
faults and zeroing. Raising the mmap and trim thresholds lets the buffers be reused.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_buffers_in_heap() -> bool:
    if os.environ.get("DOCKYARD_NO_MALLOPT"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(
        mallopt(_M_TRIM_THRESHOLD, 128 << 20)
    )


def freeze_startup_objects() -> None:
    """Move everything start-up made (modules, classes, the app: ~37,000 objects) out of
    the cyclic collector's reach. A full collection otherwise walks all of them again
    (~9 ms here, far more on a loaded machine), and a registry that has served many
    requests runs them more often; one landing in a blob download stalled it. Objects
    made while serving are collected as usual."""
    gc.collect()
    gc.freeze()
