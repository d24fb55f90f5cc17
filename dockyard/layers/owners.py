"""User and group names for `export`, looked up in the container's own files.

Docker writes an export's tar inside the container's root (a ``docker-tar``
process chrooted there), and Go's archive/tar fills in each header's user and
group names with os/user lookups, which a glibc build of dockerd answers
through NSS: the container's /etc/passwd and /etc/group, then the host's other
NSS modules (Debian's nss-systemd names uid and gid 0 "root" even when the
container has no such files; it names 65534 "nobody" and "nogroup"). Go's
user.LookupId answers the daemon's own uid from its cached current user
before looking anywhere else, so uid 0 is always the host's "root" (here: the
host's name for the exporting process's uid). A name none of these define is
left empty.

This module reads the two files through the same view the export walks (one
tree, or a stack of overlay layer directories merged as overlayfs shows them),
resolving symlinks as the chroot would (absolute targets and ``..`` stay inside
the container's root), never through the host. Files larger than
``MAX_FILE_SIZE`` are not read (no names then). The lines are parsed as
glibc's nss_files parses them, as observed against Docker 20.10:

- a line ends at a newline (or a NUL byte); leading whitespace is skipped, and
  empty lines and ``#`` comments are skipped;
- fields are separated by ``:``; missing trailing fields are empty
  (``name:x:1:1::/`` is a user, ``name:x:2`` a group);
- the id fields (uid and gid of a passwd line, gid of a group line) are read
  as strtoul reads them: leading whitespace, an optional ``+``, decimal digits
  (leading zeros allowed), ending at ``:`` or at the line's end; anything else
  (a ``-`` sign, a trailing space, an empty field) skips the line;
- names beginning with ``+`` or ``-`` (nss_compat entries) never match;
- the first line with the id wins (an empty name there gives an empty name).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from dockyard.layers.treeread import OPEN_DIRECTORY, OPEN_FILE
from dockyard.layers.whiteouts import is_opaque

MAX_FILE_SIZE = 4 << 20
_MAX_SYMLINKS = 40  # Linux's limit on symlinks followed in one path resolution
_SPACE = b" \t\n\v\f\r"
_NUMBER = re.compile(rb"[ \t\n\v\f\r]*\+?([0-9]+)")
# What the host's NSS answers when the container's files do not (nss-systemd).
_FALLBACK_USERS = {0: b"root", 65534: b"nobody"}
_FALLBACK_GROUPS = {0: b"root", 65534: b"nogroup"}


@dataclass
class OwnerNames:
    users: dict[int, bytes] = field(default_factory=dict)
    groups: dict[int, bytes] = field(default_factory=dict)
    current: tuple[int, bytes] | None = field(default_factory=lambda: _current_user())

    def user(self, uid: int) -> bytes:
        if self.current is not None and uid == self.current[0]:
            return self.current[1]
        name = self.users.get(uid)
        return _FALLBACK_USERS.get(uid, b"") if name is None else name

    def group(self, gid: int) -> bytes:
        name = self.groups.get(gid)
        return _FALLBACK_GROUPS.get(gid, b"") if name is None else name


def read_owner_names(sources: Sequence[bytes], *, merge: bool) -> OwnerNames:
    """The names defined by /etc/passwd and /etc/group of the tree in ``sources``
    (one directory, or with ``merge`` overlay layer directories, top first)."""
    passwd = read_in_tree(sources, b"etc/passwd", merge=merge)
    group = read_in_tree(sources, b"etc/group", merge=merge)
    return OwnerNames(
        users=parse_id_names(passwd, fields=4) if passwd else {},
        groups=parse_id_names(group, fields=3) if group else {},
    )


def parse_id_names(data: bytes, *, fields: int) -> dict[int, bytes]:
    """{id: name} of a passwd (``fields=4``: name, password, uid, gid) or group
    (``fields=3``: name, password, gid) file; the first line of an id wins."""
    names: dict[int, bytes] = {}
    for line in data.split(b"\n"):
        line = line.split(b"\0", 1)[0].lstrip(_SPACE)
        if not line or line[0] == 0x23:  # '#'
            continue
        parts = line.split(b":", fields)
        if len(parts) < fields:
            continue
        numbers = [_NUMBER.fullmatch(number) for number in parts[2:fields]]
        if not all(numbers):
            continue
        name = parts[0]
        if name[:1] in (b"+", b"-"):
            continue
        names.setdefault(int(numbers[0].group(1)), name)  # type: ignore[union-attr]
    return names


def read_in_tree(sources: Sequence[bytes], path: bytes, *, merge: bool) -> bytes | None:
    """The contents of the regular file at ``path`` in the tree, resolved as if
    the tree were the root directory; None when it is missing, not a regular
    file, too large, or its resolution loops."""
    roots: list[int] = []
    levels: list[list[int]] = []
    try:
        for source in sources:
            try:
                roots.append(os.open(source, OPEN_DIRECTORY & ~os.O_NOFOLLOW))
            except FileNotFoundError:
                if not merge:
                    return None
        if not roots:
            return None
        levels.append(roots)
        pending = _components(path)
        followed = 0
        while pending:
            name = pending.pop(0)
            if name == b"..":
                if len(levels) > 1:
                    _close(levels.pop())
                continue
            found = _find(levels[-1], name, merge)
            if found is None:
                return None
            index, info = found
            holder = levels[-1][index]
            if stat.S_ISLNK(info.st_mode):
                followed += 1
                if followed > _MAX_SYMLINKS:
                    return None
                target = os.readlink(name, dir_fd=holder)
                if target.startswith(b"/"):
                    while len(levels) > 1:
                        _close(levels.pop())
                pending[:0] = _components(target)
            elif stat.S_ISDIR(info.st_mode):
                levels.append(_open_directories(levels[-1][index:], name, merge))
                if not levels[-1]:
                    return None
            elif stat.S_ISREG(info.st_mode) and not pending:
                return _read_file(holder, name)
            else:
                return None
        return None
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EACCES):
            return None
        raise
    finally:
        for level in levels[1:]:
            _close(level)
        _close(roots)


def _current_user() -> tuple[int, bytes] | None:
    """(uid, host name) of this process's user, as Go's cached user.Current()."""
    import pwd

    uid = os.geteuid()
    try:
        return uid, os.fsencode(pwd.getpwuid(uid).pw_name)
    except KeyError:
        return None


def _components(path: bytes) -> list[bytes]:
    return [part for part in path.split(b"/") if part and part != b"."]


def _find(level: list[int], name: bytes, merge: bool) -> tuple[int, os.stat_result] | None:
    """(index in ``level``, lstat) of the topmost entry ``name``; None if absent or whited out."""
    for index, dfd in enumerate(level):
        try:
            info = os.lstat(name, dir_fd=dfd)
        except FileNotFoundError:
            continue
        if merge and stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
            return None  # a whiteout hides the name below
        return index, info
    return None


def _open_directories(level: list[int], name: bytes, merge: bool) -> list[int]:
    """``name`` opened in each layer of ``level`` that contributes to the merged
    directory, top first (the first of ``level`` holds it as a directory)."""
    opened: list[int] = []
    try:
        for index, dfd in enumerate(level):
            if index:
                try:
                    mode = os.lstat(name, dir_fd=dfd).st_mode
                except FileNotFoundError:
                    continue
                if not stat.S_ISDIR(mode):
                    break  # a whiteout or a non-directory ends the merge
            opened.append(os.open(name, OPEN_DIRECTORY, dir_fd=dfd))
            if not merge or is_opaque(opened[-1]):
                break
    except BaseException:
        _close(opened)
        raise
    return opened


def _read_file(dfd: int, name: bytes) -> bytes | None:
    fd = os.open(name, OPEN_FILE | os.O_NONBLOCK, dir_fd=dfd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_SIZE:
            return None
        data = os.read(fd, MAX_FILE_SIZE + 1)
        return None if len(data) > MAX_FILE_SIZE else data
    finally:
        os.close(fd)


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)
