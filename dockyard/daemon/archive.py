"""`docker cp`'s path stat as the Engine API encodes it (the copying itself is
engine.containers' get_archive/put_archive, shared with the CLI's `cp`)."""

from __future__ import annotations

import base64
import json
import stat as statmod
import time
from typing import Any

from dockyard.containers.copy import PathStat

# Go's os.FileMode type bits
MODE_DIR = 1 << 31
MODE_SYMLINK = 1 << 27
MODE_DEVICE = 1 << 26
MODE_NAMED_PIPE = 1 << 25
MODE_SOCKET = 1 << 24
MODE_SETUID = 1 << 23
MODE_SETGID = 1 << 22
MODE_CHAR_DEVICE = 1 << 21
MODE_STICKY = 1 << 20


def go_file_mode(mode: int) -> int:
    result = mode & 0o777
    if statmod.S_ISDIR(mode):
        result |= MODE_DIR
    elif statmod.S_ISLNK(mode):
        result |= MODE_SYMLINK
    elif statmod.S_ISBLK(mode):
        result |= MODE_DEVICE
    elif statmod.S_ISCHR(mode):
        result |= MODE_DEVICE | MODE_CHAR_DEVICE
    elif statmod.S_ISFIFO(mode):
        result |= MODE_NAMED_PIPE
    elif statmod.S_ISSOCK(mode):
        result |= MODE_SOCKET
    if mode & statmod.S_ISUID:
        result |= MODE_SETUID
    if mode & statmod.S_ISGID:
        result |= MODE_SETGID
    if mode & statmod.S_ISVTX:
        result |= MODE_STICKY
    return result


def _rfc3339(seconds: float) -> str:
    whole = int(seconds)
    nanos = int(round((seconds - whole) * 1e9))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{stamp}.{nanos:09d}".rstrip("0").rstrip(".") + "Z"


def stat_document(info: PathStat) -> dict[str, Any]:
    """The X-Docker-Container-Path-Stat document (Go's FileMode bits, RFC 3339 time)."""
    return {
        "name": info.name,
        "size": info.size,
        "mode": go_file_mode(info.mode),
        "mtime": _rfc3339(info.mtime),
        "linkTarget": info.link_target,
    }


def stat_header(stat: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(stat).encode()).decode()
