"""The container's root filesystem: an overlay of the image's layers.

Layout inside the container directory:

    init/    the engine's init layer (/.dockerenv, mount points for /etc/hosts...)
    l/       short symlinks 0, 1, 2... to the image's layer directories
    upper/   the container's changes (overlay upperdir)
    work/    overlay workdir
    merged/  the mount point

The overlay names its layers through an open descriptor of l/ (/proc/self/fd/N/0,
/proc/self/fd/N/1, ...): the kernel caps the option string at a page, which absolute
layer paths would overflow, and a descriptor is private to the call where a chdir
into l/ would be process-wide (the daemon mounts from several threads at once).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from dockyard.runtime import linux

INIT_FILES = ("etc/resolv.conf", "etc/hosts", "etc/hostname", ".dockerenv", "dev/console")
INIT_DIRS = ("dev", "dev/pts", "dev/shm", "etc", "proc", "sys")
VOLATILE = os.environ.get("DOCKYARD_OVERLAY_SYNC", "") in ("", "0")
ENGINE_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv")


def prepare(container_dir: Path, layer_dirs: Sequence[Path]) -> None:
    """Create init/, l/, upper/ and work/ for a new container (layer_dirs bottom to top)."""
    links = container_dir / "l"
    for name in ("upper", "work", "merged"):
        (container_dir / name).mkdir(mode=0o755, exist_ok=True)
    links.mkdir(exist_ok=True)
    _make_init_layer(container_dir / "init")
    set_layers(container_dir, layer_dirs)


def set_layers(container_dir: Path, layer_dirs: Sequence[Path]) -> None:
    """(Re)point l/0..N-1 at the image's layers; l/N-1 is the top one."""
    links = container_dir / "l"
    for old in links.iterdir():
        old.unlink()
    for index, layer in enumerate(layer_dirs):
        os.symlink(os.path.abspath(layer), links / str(index))


def _make_init_layer(init: Path) -> None:
    init.mkdir(mode=0o755, exist_ok=True)
    for name in INIT_DIRS:
        (init / name).mkdir(mode=0o755, exist_ok=True)
    for name in INIT_FILES:
        path = init / name
        path.touch(mode=0o755, exist_ok=True)
        os.chmod(path, 0o755)
    mtab = init / "etc" / "mtab"
    if not mtab.is_symlink():
        os.symlink("/proc/mounts", mtab)


def lower_names(container_dir: Path) -> list[str]:
    """Relative lowerdir names, top first, as seen from container_dir/l."""
    count = len(list((container_dir / "l").iterdir()))
    names = ["../init"] + [str(index) for index in reversed(range(count))]
    return names


@contextlib.contextmanager
def _links_prefix(container_dir: Path) -> Iterator[str]:
    """``/proc/self/fd/N/``, N an open descriptor of container_dir/l, for the duration."""
    fd = os.open(container_dir / "l", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/"
    finally:
        os.close(fd)


def _lowerdir(prefix: str, names: Sequence[str]) -> str:
    return ":".join(prefix + name for name in names)


def mount(container_dir: Path) -> Path:
    """Mount the overlay on merged/ (idempotent) and return it."""
    merged = container_dir / "merged"
    merged.mkdir(exist_ok=True)
    if linux.is_mountpoint(merged):
        return merged
    with _links_prefix(container_dir) as links:
        lowers = _lowerdir(links, lower_names(container_dir))
        options = f"lowerdir={lowers},upperdir={links}../upper,workdir={links}../work"
        if VOLATILE:
            # No sync of the whole upper filesystem at unmount (that costs ~0.3 s on ext4).
            # The kernel leaves work/work/incompat/volatile behind as a "maybe unsynced"
            # marker and refuses the next mount while it exists; the engine unmounts
            # cleanly and clears it (after a host crash, changes not yet written back are lost).
            options += ",volatile"
            _clear_volatile_marker(container_dir)
        linux.mount("overlay", os.path.abspath(merged), "overlay", 0, options)
    return merged


INIT_BINARY = "sbin/docker-init"  # where --init's binary is bind-mounted, as in Docker
_INIT_MOUNTPOINT_RECORD = "init-mountpoint"


def prepare_init_mountpoint(container_dir: Path) -> None:
    """Give /sbin/docker-init a mount point in the init layer (once per container).

    The runtime would otherwise create it in the upper directory, where `diff` and
    `commit` would see it. Where the image resolves the path matters: /sbin is a
    symlink to usr/sbin in merged-/usr images (Debian since bookworm), and a plain
    sbin/ directory in the init layer would hide the image's /sbin.
    The overlay must not be mounted: its lower layers are changed here.
    """
    from dockyard.runtime.securejoin import secure_join

    record = container_dir / _INIT_MOUNTPOINT_RECORD
    if record.exists():
        return
    merged = mount(container_dir)
    try:
        real = secure_join(str(merged), INIT_BINARY)
        relative = os.path.relpath(real, merged)
        exists = os.path.lexists(real)
        parents = []  # (relative dir, mode, uid, gid) as the image has them
        current = ""
        for part in relative.split("/")[:-1]:
            current = os.path.join(current, part)
            try:
                info = os.lstat(os.path.join(merged, current))
                parents.append((current, info.st_mode & 0o7777, info.st_uid, info.st_gid))
            except FileNotFoundError:
                parents.append((current, 0o755, 0, 0))
    finally:
        unmount(merged)
    if relative.startswith("..") or os.path.isabs(relative):
        raise OSError(f"cannot place {INIT_BINARY} in the container")
    if not exists:
        init = container_dir / "init"
        for directory, mode, uid, gid in parents:
            path = init / directory
            if not path.is_dir() or path.is_symlink():
                path.mkdir(mode=mode)
                os.chown(path, uid, gid)
                os.chmod(path, mode)
        target = init / relative
        target.touch(mode=0o755, exist_ok=True)
    record.write_text(relative + "\n")


def _clear_volatile_marker(container_dir: Path) -> None:
    marker = container_dir / "work" / "work" / "incompat"
    if not os.path.lexists(marker):
        return  # a first mount: nothing to clear (and no shutil import, ~5 ms)
    import shutil  # here: shutil costs start-up time

    shutil.rmtree(marker, ignore_errors=True)


@contextlib.contextmanager
def mounted_readonly(container_dir: Path, target: Path) -> Iterator[Path]:
    """A read-only view of the container's filesystem (the upper dir as top lower) at target.

    Used to read a container (export, cp, commit checks) while its own mount may be in use.
    """
    target.mkdir(exist_ok=True)
    names = ["../upper", *lower_names(container_dir)]
    with _links_prefix(container_dir) as links:
        options = f"lowerdir={_lowerdir(links, names)}"
        linux.mount("overlay", os.path.abspath(target), "overlay", linux.MS_RDONLY, options)
    try:
        yield target
    finally:
        unmount(target)
        with contextlib.suppress(OSError):
            target.rmdir()


def unmount(path: Path) -> None:
    """Unmount path if it is mounted; lazily when busy."""
    if not linux.is_mountpoint(path):
        return
    try:
        linux.umount(path)
    except OSError:
        linux.umount(path, linux.MNT_DETACH)
    if path.name == "merged":
        _clear_volatile_marker(path.parent)


def remove(container_dir: Path) -> None:
    """Unmount whatever is left and delete the container directory."""
    for path in [container_dir / "merged", *container_dir.glob("ro-*")]:
        unmount(path)
    import shutil

    shutil.rmtree(container_dir, ignore_errors=True)
