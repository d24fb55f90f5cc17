"""`docker cp` against a container: stat a path, tar it out, extract a tar in.

Paths are resolved inside the container (symlinks followed with the
container's root as "/"); extraction refuses members that would land outside
the target directory (Python's tar filter), device nodes, and replacing a
directory by a non-directory or the reverse when asked not to.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import stat as statmod
import tarfile
import time
from pathlib import Path
from typing import Any, BinaryIO

from dockyard.errors import InvalidArgument, NotFound

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


def _resolve(view: Path, path: str, container: str) -> str:
    from dockyard.runtime.securejoin import secure_join

    if not path:
        raise InvalidArgument("path is required")
    resolved = secure_join(str(view), path, follow_last=False)
    if not os.path.lexists(resolved):
        raise NotFound(f"Could not find the file {path} in container {container}")
    return resolved


def path_stat(view: Path, path: str, container: str) -> dict[str, Any]:
    resolved = _resolve(view, path, container)
    info = os.lstat(resolved)
    link = ""
    if statmod.S_ISLNK(info.st_mode):
        from dockyard.runtime.securejoin import secure_join

        target = secure_join(str(view), path, follow_last=True)
        link = "/" + os.path.relpath(target, view) if target != str(view) else "/"
    name = posixpath.basename(path.rstrip("/")) or "/"
    return {
        "name": name,
        "size": info.st_size,
        "mode": go_file_mode(info.st_mode),
        "mtime": _rfc3339(info.st_mtime),
        "linkTarget": link,
    }


def stat_header(stat: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(stat).encode()).decode()


def _numeric_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uname = ""
    info.gname = ""
    return info


def write_archive(view: Path, path: str, container: str, out: BinaryIO) -> None:
    """A tar of path, named by its basename ("." and "./..." for a path ending in /.)."""
    resolved = _resolve(view, path, container)
    arcname = posixpath.basename(path.rstrip("/")) or "."
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.add(resolved, arcname=arcname, filter=_numeric_owner)


def extract_archive(
    view: Path,
    path: str,
    container: str,
    source: BinaryIO,
    *,
    no_overwrite_dir_non_dir: bool = False,
    copy_uid_gid: bool = False,
) -> None:
    from dockyard.runtime.securejoin import secure_join

    target = secure_join(str(view), path, follow_last=True)
    if not os.path.lexists(target):
        raise NotFound(f"Could not find the file {path} in container {container}")
    if not os.path.isdir(target):
        raise InvalidArgument("extraction point is not a directory")

    def check(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
        if member.ischr() or member.isblk():
            raise InvalidArgument(f"refusing to create device node {member.name}")
        checked = tarfile.tar_filter(member, dest)
        existing = os.path.join(dest, checked.name)
        if no_overwrite_dir_non_dir and os.path.lexists(existing):
            is_dir = os.path.isdir(existing) and not os.path.islink(existing)
            if is_dir and not member.isdir():
                raise InvalidArgument(
                    f"cannot overwrite directory {existing[len(dest) :]!r} with non-directory"
                )
            if member.isdir() and not is_dir:
                raise InvalidArgument(
                    f"cannot overwrite non-directory {existing[len(dest) :]!r} with directory"
                )
        uid, gid = (member.uid, member.gid) if copy_uid_gid else (0, 0)
        return checked.replace(mode=member.mode, uid=uid, gid=gid, uname="", gname="", deep=False)

    try:
        with tarfile.open(fileobj=source, mode="r|*") as tar:
            tar.extractall(target, filter=check, numeric_owner=True)
    except tarfile.FilterError as error:
        raise InvalidArgument(f"refusing to extract: {error}") from None
    except tarfile.ReadError as error:
        raise InvalidArgument(f"invalid tar archive: {error}") from None
