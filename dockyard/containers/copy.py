"""`cp`: copy files between a container and the host, symlinks resolved inside the container."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from dockyard.containers.lifecycle import find
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
