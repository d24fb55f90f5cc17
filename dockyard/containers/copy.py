"""`cp`: copy files between a container and the host, symlinks resolved inside the container.

The CLI's `cp` and the daemon's /containers/{id}/archive routes both come here (through
engine.containers): one way to read a container path, one way to write into one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from dockyard.containers.lifecycle import find
from dockyard.datarecord import dataclass
from dockyard.errors import InvalidArgument, NotFound
from dockyard.runtime import linux, rootfs
from dockyard.runtime.securejoin import secure_join
from dockyard.store import Store


def split_target(text: str) -> tuple[str | None, str]:
    """("container", "path") for CONTAINER:PATH, (None, path) for a local path."""
    if text.startswith(("/", ".")) or ":" not in text:
        return None, text
    name, _, path = text.partition(":")
    return name, path


@contextlib.contextmanager
def writable_view(directory: Path) -> Iterator[Path]:
    """The container's merged tree, writable (mounted for the call when stopped)."""
    with open(directory / "lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = directory / "merged"
        if linux.is_mountpoint(merged):
            yield merged
            return
        rootfs.mount(directory)
        try:
            yield merged
        finally:
            rootfs.unmount(merged)


def _copy_any(source: str, target: str) -> None:
    if os.path.isdir(source) and not os.path.islink(source):
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True, copy_function=_copy_file)
        shutil.copystat(source, target)
    else:
        _copy_file(source, target)


def _copy_file(source: str, target: str) -> None:
    if os.path.islink(source):
        if os.path.lexists(target):
            os.unlink(target)
        os.symlink(os.readlink(source), target)
    else:
        shutil.copy2(source, target)
    st = os.lstat(source)
    os.lchown(target, st.st_uid, st.st_gid)


def _remove_entry(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _copy_into(view: str, source: str, target: str) -> None:
    """Copy a host file or tree to ``target`` inside the container tree ``view``.

    Parents are resolved inside the container; an entry in the way is replaced, as
    Docker's extraction replaces it: a symlink in the container is never followed, so
    nothing is written outside the container.
    """
    rel = os.path.relpath(target, view)
    final = os.path.join(secure_join(view, os.path.dirname(rel)), os.path.basename(rel))
    info = os.lstat(source)
    if stat.S_ISDIR(info.st_mode):
        if not (os.path.isdir(final) and not os.path.islink(final)):
            _remove_entry(final)
            os.mkdir(final, 0o700)
        for entry in sorted(os.listdir(source)):
            _copy_into(view, os.path.join(source, entry), os.path.join(final, entry))
    else:
        _remove_entry(final)
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(source), final)
        elif stat.S_ISREG(info.st_mode):
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            with open(source, "rb") as src, os.fdopen(os.open(final, flags, 0o600), "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        else:
            os.mknod(final, info.st_mode, info.st_rdev)
    os.lchown(final, info.st_uid, info.st_gid)
    if not stat.S_ISLNK(info.st_mode):
        shutil.copystat(source, final, follow_symlinks=False)


def _destination(dest: str, source_name: str) -> str:
    if os.path.isdir(dest) and not os.path.islink(dest):
        return os.path.join(dest, source_name)
    return dest


def copy(store: Store, source: str, destination: str, follow_link: bool = False) -> None:
    src_container, src_path = split_target(source)
    dst_container, dst_path = split_target(destination)
    if (src_container is None) == (dst_container is None):
        raise InvalidArgument(
            "copying between containers is not supported"
            if src_container
            else "must specify at least one container source"
        )
    if src_container is not None:
        from dockyard.containers.export import merged_view

        _, directory = find(store, src_container)
        with merged_view(directory) as view:
            resolved = secure_join(str(view), src_path, follow_last=follow_link)
            if not os.path.lexists(resolved):
                raise NotFound(f"Could not find the file {src_path} in container {src_container}")
            name = os.path.basename(os.path.normpath(src_path)) or "."
            _copy_any(resolved, _destination(dst_path, name))
        return
    assert dst_container is not None
    if not os.path.lexists(src_path):
        raise NotFound(f"lstat {src_path}: no such file or directory")
    _, directory = find(store, dst_container)
    with writable_view(directory) as view:
        resolved = secure_join(str(view), dst_path)
        parent = os.path.dirname(resolved.rstrip("/")) or str(view)
        if not os.path.isdir(parent):
            raise NotFound(
                f"Could not find the file {os.path.dirname(dst_path)} in container {dst_container}"
            )
        source_real = os.path.realpath(src_path) if follow_link else src_path
        name = os.path.basename(os.path.normpath(src_path))
        _copy_into(str(view), source_real, _destination(resolved, name))


# ---------------------------------------------------------------- tar streams
# One implementation for `cp CONTAINER:PATH -` / `cp - CONTAINER:DIR` and for the Engine
# API's GET/HEAD/PUT /containers/{id}/archive (what `docker cp` uses).


@dataclass
class PathStat:
    """What `docker cp` learns of a container path before it copies (lstat of the path)."""

    name: str
    size: int
    mode: int  # st_mode
    mtime: float
    link_target: str  # a symlink's target resolved inside the container ("" otherwise)


class NotADirectoryDestination(InvalidArgument):
    """A tar is extracted into a directory only."""


def _resolved(view: Path, path: str, container: str, follow_link: bool = False) -> str:
    if not path:
        raise InvalidArgument("path is required")
    resolved = secure_join(str(view), path, follow_last=follow_link)
    if not os.path.lexists(resolved):
        raise NotFound(f"Could not find the file {path} in container {container}")
    return resolved


def _path_stat(view: Path, path: str, container: str) -> PathStat:
    resolved = _resolved(view, path, container)
    info = os.lstat(resolved)
    link = ""
    if stat.S_ISLNK(info.st_mode):
        target = secure_join(str(view), path, follow_last=True)
        link = "/" + os.path.relpath(target, view) if target != str(view) else "/"
    name = os.path.basename(path.rstrip("/")) or "/"
    return PathStat(name, info.st_size, info.st_mode, info.st_mtime, link)


def stat_path(store: Store, container: str, path: str) -> PathStat:
    """HEAD /containers/{id}/archive: the path itself (a symlink is not followed)."""
    from dockyard.containers.export import merged_view

    _, directory = find(store, container)
    with merged_view(directory) as view:
        return _path_stat(view, path, container)


def _archive_name(path: str) -> str:
    """The name a path's entries get in the tar: its basename ("." for a path ending in
    /. : the directory's content)."""
    trimmed = path.rstrip("/")
    if trimmed.endswith("/.") or trimmed == ".":
        return "."
    return os.path.basename(os.path.normpath(trimmed)) or "."


def _numeric_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uname = info.gname = ""
    return info


def copy_to_stream(
    store: Store,
    container: str,
    path: str,
    out: BinaryIO,
    follow_link: bool = False,
    on_stat: Callable[[PathStat], None] | None = None,
) -> PathStat:
    """A tar of PATH (named by its basename) written to out; on_stat(stat of PATH) is
    called before the first byte (the API sends it as a header)."""
    from dockyard.containers.export import merged_view

    _, directory = find(store, container)
    with merged_view(directory) as view:
        info = _path_stat(view, path, container)
        resolved = _resolved(view, path, container, follow_link)
        if on_stat is not None:
            on_stat(info)
        name = "." if resolved == str(view) else _archive_name(path)
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(resolved, arcname=name, filter=_numeric_owner)
    return info


def copy_from_stream(
    store: Store,
    container: str,
    path: str,
    source: BinaryIO,
    copy_uid_gid: bool = False,
    no_overwrite_dir_non_dir: bool = True,
) -> None:
    """Extract a tar (plain, gzip, bzip2 or xz) into the container directory PATH.

    The one safety rule: every entry's parent is resolved inside the container and the
    entry itself is never followed, so a symlink in the container or in the archive
    cannot send a write outside the container; `..` entries, hard links leaving the
    destination and device nodes are refused. As Docker's: owners are the container's
    root unless copy_uid_gid (-a); with no_overwrite_dir_non_dir (what the docker CLI
    asks), a directory is not replaced by a non-directory nor the reverse.
    """
    _, directory = find(store, container)
    with writable_view(directory) as view:
        target = secure_join(str(view), path)
        if not os.path.lexists(target):
            raise NotFound(f"Could not find the file {path} in container {container}")
        if not os.path.isdir(target):
            raise NotADirectoryDestination("extraction point is not a directory")
        try:
            with tarfile.open(fileobj=source, mode="r|*") as tar:
                extract_tar(tar, str(view), target, copy_uid_gid, no_overwrite_dir_non_dir)
        except (tarfile.ReadError, tarfile.CompressionError, EOFError) as error:
            raise InvalidArgument(f"invalid tar archive: {error}") from None


def extract_tar(
    tar: tarfile.TarFile,
    view: str,
    target: str,
    copy_uid_gid: bool,
    no_overwrite: bool = True,
) -> None:
    """Extract into the directory target of the tree view by copy_from_stream's rule
    (build's ADD of a local archive uses it too)."""
    directories: list[tuple[str, tarfile.TarInfo]] = []
    for member in tar:
        parts = [part for part in member.name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise InvalidArgument(f"{member.name!r} is outside of the destination")
        if member.ischr() or member.isblk():
            raise InvalidArgument(f"refusing to create device node {member.name}")
        if not parts:  # the archive's root: the destination directory itself
            if member.isdir():
                directories.append((target, member))
            continue
        parent_rel = os.path.relpath(os.path.join(target, *parts[:-1]), view)
        parent = secure_join(view, parent_rel)
        if not os.path.isdir(parent):
            raise InvalidArgument(f"cannot extract {member.name!r}: its parent is not a directory")
        final = os.path.join(parent, parts[-1])
        existing_dir = os.path.isdir(final) and not os.path.islink(final)
        if os.path.lexists(final) and existing_dir != member.isdir():
            if no_overwrite:
                what = (
                    ("directory", "non-directory")
                    if existing_dir
                    else ("non-directory", "directory")
                )
                shown = "/" + os.path.relpath(final, view)
                raise InvalidArgument(
                    f"cannot overwrite {what[0]} {shown!r} with {what[1]} {member.name!r}"
                )
            _remove_entry(final)
            existing_dir = False
        if member.isdir():
            if not existing_dir:
                os.mkdir(final, 0o700)
            directories.append((final, member))
            continue
        if os.path.lexists(final):
            os.unlink(final)
        if member.isreg():
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            data = tar.extractfile(member)
            assert data is not None
            with os.fdopen(os.open(final, flags, 0o600), "wb") as out:
                shutil.copyfileobj(data, out, 1 << 20)
        elif member.issym():
            os.symlink(member.linkname, final)
        elif member.islnk():
            link_parts = [part for part in member.linkname.split("/") if part not in ("", ".")]
            if not link_parts or ".." in link_parts:
                raise InvalidArgument(f"invalid hard link {member.name!r} -> {member.linkname!r}")
            link_rel = os.path.relpath(os.path.join(target, *link_parts), view)
            source = secure_join(view, link_rel, follow_last=False)
            if not os.path.lexists(source) or os.path.isdir(source):
                raise InvalidArgument(f"invalid hard link {member.name!r} -> {member.linkname!r}")
            os.link(source, final, follow_symlinks=False)
            continue  # a hard link shares its target's owner, mode and times
        elif member.isfifo():
            os.mkfifo(final, member.mode & 0o7777)
        else:
            continue  # sparse and other special members: nothing to create
        _set_attributes(final, member, copy_uid_gid)
    for path, member in reversed(directories):  # children first: their writes touch mtimes
        _set_attributes(path, member, copy_uid_gid)


def _set_attributes(path: str, member: tarfile.TarInfo, copy_uid_gid: bool) -> None:
    uid, gid = (member.uid, member.gid) if copy_uid_gid else (0, 0)
    os.lchown(path, uid, gid)
    if not member.issym():
        os.chmod(path, member.mode & 0o7777)
    os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
