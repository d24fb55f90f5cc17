"""Helpers for the layer codec tests: tree snapshots, raw tar members, sandboxes."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import struct
import subprocess
import tarfile
from pathlib import Path

from dockyard.layers.apply import apply_layer


def snapshot(root: Path, *, mtimes: bool = True, skip_root: bool = False) -> dict[bytes, tuple]:
    """Everything a layer carries about each path under ``root`` (bytes names).

    Hardlinks appear as ("link", first path of the inode); directory mtimes are
    included too, so compare after all writes are done.
    """
    result: dict[bytes, tuple] = {}
    inodes: dict[tuple[int, int], bytes] = {}
    base = os.fsencode(root)

    def visit(relative: bytes) -> None:
        path = os.path.join(base, relative) if relative else base
        info = os.lstat(path)
        kind = stat.S_IFMT(info.st_mode)
        xattrs = tuple(
            sorted(
                (name, os.getxattr(path, name, follow_symlinks=False))
                for name in os.listxattr(path, follow_symlinks=False)
            )
        )
        common = (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, xattrs)
        when = (info.st_mtime_ns // 1_000_000_000,) if mtimes else ()
        key = relative or b"."
        if kind != stat.S_IFDIR and info.st_nlink > 1:
            first = inodes.setdefault((info.st_dev, info.st_ino), key)
            if first != key:
                result[key] = ("link", first)
                return
        if kind == stat.S_IFDIR:
            if not (skip_root and not relative):
                result[key] = ("dir", *common, *when)
            for name in sorted(os.listdir(path)):
                visit(os.path.join(relative, name) if relative else name)
        elif kind == stat.S_IFREG:
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            result[key] = ("file", *common, *when, info.st_size, digest)
        elif kind == stat.S_IFLNK:
            result[key] = ("symlink", os.readlink(path), info.st_uid, info.st_gid, *when)
        elif kind in (stat.S_IFCHR, stat.S_IFBLK):
            result[key] = ("dev", kind, os.major(info.st_rdev), os.minor(info.st_rdev), *common)
        elif kind == stat.S_IFIFO:
            result[key] = ("fifo", *common, *when)
        else:
            result[key] = ("other", kind)

    visit(b"")
    return result


def tar_bytes(*members: tuple[tarfile.TarInfo, bytes | None], fmt=tarfile.PAX_FORMAT) -> bytes:
    """A tar made with Python's tarfile: (TarInfo, data) pairs in order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt, encoding="utf-8") as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(info)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, *, link: str = "", mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = mode
    info.mtime = 1_700_000_000
    return info


def raw_header(name: bytes, *, size: int = 0, kind: bytes = b"0", link: bytes = b"") -> bytes:
    """A ustar header block written byte by byte (for names tarfile would not write)."""
    block = bytearray(512)

    def put(offset: int, length: int, value: bytes) -> None:
        block[offset : offset + len(value[:length])] = value[:length]

    put(0, 100, name)
    put(100, 8, b"0000644\0")
    put(108, 8, b"0000000\0")
    put(116, 8, b"0000000\0")
    put(124, 12, b"%011o\0" % size)
    put(136, 12, b"%011o\0" % 1_700_000_000)
    put(156, 1, kind)
    put(157, 100, link)
    put(257, 8, b"ustar\x0000")
    block[148:156] = b" " * 8
    put(148, 8, b"%06o\0 " % sum(block))
    return bytes(block)


def raw_tar(*blocks: bytes) -> bytes:
    """Concatenate header/data blocks (data padded to 512) and the end marker."""
    out = bytearray()
    for block in blocks:
        out += block
        if len(block) % 512:
            out += b"\0" * (512 - len(block) % 512)
    return bytes(out) + b"\0" * 1024


def sandbox_state(sandbox: Path) -> dict[bytes, tuple]:
    """What exists in a sandbox outside its ``target`` directory."""
    state = snapshot(sandbox)
    return {
        path: value
        for path, value in state.items()
        if not (path == b"target" or path.startswith(b"target/"))
    }


def mount_overlay(lowers: list[Path], merged: Path) -> None:
    option = "lowerdir=" + ":".join(str(lower) for lower in lowers)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", option, str(merged)], check=True)


def unmount(path: Path) -> None:
    subprocess.run(["umount", str(path)], check=False)


# VFS_CAP_REVISION_2 with the effective bit, permitting cap_net_bind_service.
CAPABILITY = struct.pack("<5I", 0x02000001, 1 << 10, 0, 0, 0)
OLD = 1_500_000_000


def build_tree(root: Path) -> None:
    """A tree with every kind of entry and metadata a layer carries."""
    root.mkdir(exist_ok=True)
    (root / "etc").mkdir()
    (root / "etc/config").write_text("key=value\n")
    (root / "bin").mkdir()
    tool = root / "bin/tool"
    tool.write_bytes(b"\x7fELF" + bytes(range(256)) * 8)
    os.chown(tool, 0, 0)
    os.chmod(tool, 0o4755)
    os.setxattr(tool, "security.capability", CAPABILITY)
    (root / "bin/group-tool").write_bytes(b"#!/bin/sh\n")
    os.chmod(root / "bin/group-tool", 0o2711)
    os.link(tool, root / "bin/tool-hardlink")
    (root / "home/user").mkdir(parents=True)
    owned = root / "home/user/notes"
    owned.write_text("mine\n")
    os.chown(owned, 1000, 1001)
    os.chown(root / "home/user", 1000, 1001)
    os.chmod(root / "home/user", 0o700)
    os.setxattr(owned, "user.comment", b"\x00binary\xff")
    os.setxattr(owned, "trusted.note", b"t")
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    (root / "big").write_bytes(os.urandom(3 << 20))
    (root / "empty").write_bytes(b"")
    os.symlink("etc/config", root / "relative-link")
    os.symlink("/etc/passwd", root / "absolute-link")
    os.symlink("does/not/exist", root / "dangling-link")
    os.symlink("t" * 300, root / "long-target-link")
    os.lchown(root / "relative-link", 7, 8)
    (root / "dev").mkdir()
    os.mknod(root / "dev/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(root / "dev/loop9", stat.S_IFBLK | 0o660, os.makedev(7, 9))
    os.mkfifo(root / "dev/fifo", 0o640)
    deep = root / "/".join(["directory-with-a-long-name"] * 8)
    deep.mkdir(parents=True)
    (deep / ("file-" + "x" * 200)).write_text("deep\n")
    (root / os.fsdecode(b"caf\xe9-latin1")).write_text("bytes name\n")
    (root / "\u65e5\u672c").write_text("utf-8 name\n")
    for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
        os.utime(path, (OLD, OLD + 17), follow_symlinks=False)
    os.utime(root / "etc", (OLD, OLD - 1000))


def without_xattrs(tree: dict[bytes, tuple]) -> dict[bytes, tuple]:
    position = {"file": 4, "dir": 4, "fifo": 4, "dev": 7}
    result = {}
    for path, entry in tree.items():
        index = position.get(entry[0])
        result[path] = entry if index is None else entry[:index] + ((),) + entry[index + 1 :]
    return result


def layer_of(root: Path) -> bytes:
    from dockyard.layers.create import create_layer

    out = io.BytesIO()
    create_layer(root, out)
    return out.getvalue()


class Overlay:
    """A container-like mount: one lower layer, an upper and a work dir."""

    def __init__(self, base: Path, lowers: list[Path]) -> None:
        self.upper, self.work, self.merged = base / "upper", base / "work", base / "merged"
        for directory in (self.upper, self.work, self.merged):
            directory.mkdir()
        option = "lowerdir={},upperdir={},workdir={}".format(
            ":".join(map(str, lowers)), self.upper, self.work
        )
        subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", option, str(self.merged)], check=True
        )
        self.mounted = True

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.merged)], check=True)
            self.mounted = False


def make_lower(tmp_path: Path) -> Path:
    image = tmp_path / "image"
    image.mkdir()
    (image / "etc").mkdir()
    (image / "etc/issue").write_text("Debian\n")
    (image / "etc/motd").write_text("hello\n")
    (image / "etc/hosts").write_text("127.0.0.1 localhost\n")
    (image / "root").mkdir(mode=0o700)
    (image / "var/cache/apt").mkdir(parents=True)
    (image / "var/cache/apt/pkgcache.bin").write_text("cache")
    (image / "var/lib/old").mkdir(parents=True)
    (image / "var/lib/old/data").write_text("old")
    (image / "tmp").mkdir()
    (image / "srv").mkdir()
    (image / "srv/keep").write_text("keep")
    lower = tmp_path / "lower"
    lower.mkdir()
    apply_layer(io.BytesIO(layer_of(image)), lower)
    return lower


def container_changes(merged: Path) -> None:
    """What the reference walk-through's `docker run ... sh -c` did, and more."""
    os.unlink(merged / "etc/issue")
    with open(merged / "etc/motd", "a") as handle:
        handle.write("x\n")
    (merged / "tmp/d/e").mkdir(parents=True)
    (merged / "tmp/d/e/f").touch()
    (merged / "root/new").write_text("y\n")
    shutil.rmtree(merged / "var/lib/old")
    (merged / "var/lib/old").mkdir()  # deleted and re-created: opaque
    (merged / "var/lib/old/fresh").write_text("fresh")
    shutil.rmtree(merged / "var/cache")
    (merged / "etc/hosts").write_text("bind mount target, left out\n")
