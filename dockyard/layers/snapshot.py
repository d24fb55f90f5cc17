"""Turn an overlay upper directory into a new layer in one pass (`commit`).

A committed layer is needed in two forms: the tar (the blob; its sha256 is the
diff ID) and the extracted directory that overlay mounts. Writing the tar and
then extracting it again reads, writes and parses everything twice; here one
walk writes each entry to the tar and copies it into the layer directory from
the same bytes. The tar is byte for byte what ``create_layer(upper,
overlay_upper=True)`` writes, and the directory is what ``apply_layer`` makes
of that tar (whiteout devices stay whiteout devices, opaque directories keep
their xattr, times are whole seconds).

The source is walked through directory file descriptors without following
symlinks, so a container changing its files meanwhile cannot make the walk
read anything outside its upper directory.
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import stat
import threading
from collections.abc import Iterable
from typing import BinaryIO

from dockyard.datarecord import dataclass
from dockyard.digest import Digest
from dockyard.layers import tarformat as tf
from dockyard.layers.treeread import OPEN_DIRECTORY, carried_xattrs, normalise_exclude
from dockyard.layers.whiteouts import OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX, is_opaque

_CHUNK = 1 << 20
_KERNEL_COPY_MIN = 1 << 20  # smaller files are cheaper to copy through a buffer
_FLUSH_AT = 1 << 20
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_GONE = (errno.ENOENT, errno.ELOOP, errno.ENOTDIR)  # changed under us by a running container


@dataclass
class SnapshotLayer:
    diff_id: Digest
    size: int  # Docker's layer size: regular file bytes plus symlink target lengths
    tar_size: int  # bytes of the tar, end-of-archive blocks included


class _TarSink:
    """Hashes, counts and writes the tar; headers are gathered into ~1 MiB writes."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._pending = bytearray()
        self.hash = hashlib.sha256()
        self.count = 0

    def add(self, data: bytes) -> None:
        self._pending += data
        if len(self._pending) >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.data(self._pending)
            self._pending = bytearray()

    def data(self, chunk: bytes | bytearray | memoryview) -> None:
        self.hash.update(chunk)
        self._out.write(chunk)
        self.count += len(chunk)

    @property
    def copies_from_fd(self) -> bool:
        return hasattr(self._out, "copy_from_fd")

    def file_by_kernel(self, source: int, size: int) -> None:
        """``size`` bytes of a file that nobody changes meanwhile: hashed from a
        mapping on a second thread (hashlib lets go of the GIL) while the kernel
        copies them into the tar."""
        self.flush()
        with mmap.mmap(source, size, prot=mmap.PROT_READ) as mapping:
            hasher = threading.Thread(target=self.hash.update, args=(mapping,))
            hasher.start()
            try:
                self._out.copy_from_fd(source, 0, size)  # type: ignore[attr-defined]
            finally:
                hasher.join()
        self.count += size


def _setxattrs(where: int | bytes, xattrs: list[tuple[bytes, bytes]]) -> None:
    follow = isinstance(where, int)
    for key, value in xattrs:
        try:
            os.setxattr(where, key, value, follow_symlinks=follow)  # type: ignore[arg-type]
        except OSError as error:
            if error.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
                raise


def _copy_file(source: int, copy: int, size: int) -> None:
    """The kernel copies ``size`` bytes from the start of ``source`` into ``copy``."""
    offset = 0
    while offset < size:
        try:
            copied = os.copy_file_range(source, copy, size - offset, offset, offset)
        except OSError as error:
            if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            copied = os.sendfile(copy, source, offset, size - offset)
        if not copied:
            raise OSError(f"the file ended {size - offset} bytes early")
        offset += copied


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


class _Snapshot:
    def __init__(self, sink: _TarSink, exclude: set[bytes], stable: bool) -> None:
        self.sink = sink
        self.exclude = exclude
        self.kernel_copies = stable and sink.copies_from_fd
        self.is_root = os.geteuid() == 0
        self.inodes: dict[tuple[int, int], bytes] = {}
        self.size = 0
        self.buffer = bytearray(_CHUNK)
        self.target_root = -1  # hardlinks name their first path from the layer's root

    def directory(self, source: int, target: int, relative: bytes) -> None:
        for name in sorted(os.fsencode(name) for name in os.listdir(source)):
            child = relative + b"/" + name if relative else name
            if child in self.exclude:
                continue
            self.entry(source, target, name, child)

    def entry(self, source: int, target: int, name: bytes, relative: bytes) -> None:
        try:
            info = os.stat(name, dir_fd=source, follow_symlinks=False)
        except FileNotFoundError:
            return
        mode = info.st_mode
        kind = stat.S_IFMT(mode)
        uid, gid, mtime = info.st_uid, info.st_gid, info.st_mtime_ns // 1_000_000_000
        header = tf.encode_header
        if kind == stat.S_IFDIR:
            self.subdirectory(source, target, name, relative, info)
            return
        if kind == stat.S_IFCHR and info.st_rdev == 0:  # an overlay whiteout
            head, _, tail = relative.rpartition(b"/")
            whiteout = (head + b"/" if head else b"") + WHITEOUT_PREFIX + tail
            self.sink.add(header(whiteout, tf.REGULAR, mode & 0o777, uid, gid, mtime))
            os.mknod(name, stat.S_IFCHR, 0, dir_fd=target)
            self.owner(target, name, uid, gid)
            return
        if kind == stat.S_IFSOCK:
            return  # tar cannot carry sockets; Docker skips them too
        if info.st_nlink > 1:
            first = self.inodes.setdefault((info.st_dev, info.st_ino), relative)
            if first != relative:
                self.sink.add(header(relative, tf.HARDLINK, mode, uid, gid, mtime, linkname=first))
                self.link(target, name, first)
                return
        times = (mtime * 1_000_000_000,) * 2
        if kind == stat.S_IFREG:
            self.regular(source, target, name, relative, info)
            return
        where = b"/proc/self/fd/%d/%s" % (source, name)
        xattrs = carried_xattrs(where)
        made = b"/proc/self/fd/%d/%s" % (target, name)
        if kind == stat.S_IFLNK:
            try:
                link = os.readlink(name, dir_fd=source)
            except OSError as error:
                if error.errno in _GONE + (errno.EINVAL,):
                    return
                raise
            link = os.fsencode(link)
            self.sink.add(
                header(relative, tf.SYMLINK, mode, uid, gid, mtime, linkname=link, xattrs=xattrs)
            )
            self.size += len(link)
            os.symlink(link, name, dir_fd=target)
            self.owner(target, name, uid, gid)
            _setxattrs(made, xattrs)
            os.utime(name, ns=times, dir_fd=target, follow_symlinks=False)
            return
        if kind in (stat.S_IFCHR, stat.S_IFBLK):
            type_flag = tf.CHARDEV if kind == stat.S_IFCHR else tf.BLOCKDEV
            major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
            self.sink.add(
                header(
                    relative, type_flag, mode, uid, gid, mtime,
                    devmajor=major, devminor=minor, xattrs=xattrs,
                )
            )  # fmt: skip
        elif kind == stat.S_IFIFO:
            self.sink.add(header(relative, tf.FIFO, mode, uid, gid, mtime, xattrs=xattrs))
        else:
            return
        os.mknod(name, kind | 0o600, info.st_rdev, dir_fd=target)
        self.owner(target, name, uid, gid)
        os.chmod(name, mode & 0o7777, dir_fd=target)
        _setxattrs(made, xattrs)
        os.utime(name, ns=times, dir_fd=target, follow_symlinks=False)

    def subdirectory(
        self, source: int, target: int, name: bytes, relative: bytes, info: os.stat_result
    ) -> None:
        try:
            child_source = os.open(name, OPEN_DIRECTORY, dir_fd=source)
        except OSError as error:
            if error.errno in _GONE:
                return
            raise
        try:
            mode, uid, gid = info.st_mode, info.st_uid, info.st_gid
            mtime = info.st_mtime_ns // 1_000_000_000
            xattrs = carried_xattrs(child_source)
            self.sink.add(
                tf.encode_header(
                    relative + b"/", tf.DIRECTORY, mode, uid, gid, mtime, xattrs=xattrs
                )
            )
            os.mkdir(name, 0o700, dir_fd=target)
            child_target = os.open(name, OPEN_DIRECTORY, dir_fd=target)
            try:
                if self.is_root:
                    os.fchown(child_target, uid, gid)
                _setxattrs(child_target, xattrs)
                if is_opaque(child_source):
                    marker = relative + b"/" + OPAQUE_MARKER
                    self.sink.add(
                        tf.encode_header(marker, tf.REGULAR, mode & 0o777, uid, gid, mtime)
                    )
                    os.setxattr(child_target, OPAQUE_XATTR, b"y")
                self.directory(child_source, child_target, relative)
                os.fchmod(child_target, mode & 0o7777)
                os.utime(child_target, ns=(mtime * 1_000_000_000,) * 2)
            finally:
                os.close(child_target)
        finally:
            os.close(child_source)

    def regular(
        self, source: int, target: int, name: bytes, relative: bytes, info: os.stat_result
    ) -> None:
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=source)
        except OSError as error:
            if error.errno in _GONE:
                return  # removed or replaced since it was listed (a running container)
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return  # replaced by something else since it was listed
            mode, uid, gid = info.st_mode, info.st_uid, info.st_gid
            mtime = info.st_mtime_ns // 1_000_000_000
            size = info.st_size
            xattrs = carried_xattrs(fd)
            self.sink.add(
                tf.encode_header(
                    relative, tf.REGULAR, mode, uid, gid, mtime, size=size, xattrs=xattrs
                )
            )
            self.size += size
            copy = os.open(name, _NEW_FILE_FLAGS, 0o600, dir_fd=target)
            try:
                if self.kernel_copies and size >= _KERNEL_COPY_MIN and os.fstat(fd).st_size == size:
                    self.sink.file_by_kernel(fd, size)
                    _copy_file(fd, copy, size)
                    self.sink.add(tf.padding(size))
                else:
                    self.copy_data(fd, copy, size)
                if self.is_root:
                    os.fchown(copy, uid, gid)  # before the mode: chown drops setuid bits
                os.fchmod(copy, mode & 0o7777)
                _setxattrs(copy, xattrs)
                os.utime(copy, ns=(mtime * 1_000_000_000,) * 2)
            finally:
                os.close(copy)
        finally:
            os.close(fd)

    def copy_data(self, source: int, copy: int, size: int) -> None:
        """Exactly ``size`` bytes to the tar and to the copy (zeros if the file shrank)."""
        sink = self.sink
        if size:
            sink.flush()
        view = memoryview(self.buffer)
        remaining = size
        with open(source, "rb", buffering=0, closefd=False) as reader:
            while remaining:
                want = min(remaining, _CHUNK)
                got = reader.readinto(view[:want]) or 0
                if not got:  # shrank while read: pad with zeros, as create_layer does
                    view[:want] = bytes(want)
                    got = want
                chunk = view[:got]
                sink.data(chunk)
                _write_all(copy, chunk)
                remaining -= got
        sink.add(tf.padding(size))

    def owner(self, directory: int, name: bytes, uid: int, gid: int) -> None:
        if self.is_root:
            os.chown(name, uid, gid, dir_fd=directory, follow_symlinks=False)

    def link(self, target: int, name: bytes, first: bytes) -> None:
        os.link(first, name, src_dir_fd=self.target_root, dst_dir_fd=target, follow_symlinks=False)


def snapshot_layer(
    upper: os.PathLike[str] | str,
    target: os.PathLike[str] | str,
    out: BinaryIO,
    *,
    exclude: Iterable[str] = (),
    stable: bool = False,
) -> SnapshotLayer:
    """Write the overlay upper directory ``upper`` as a layer tar to ``out`` and copy it
    into the empty directory ``target`` as an extracted layer.

    ``stable`` says nothing changes the files meanwhile (a stopped container): big
    files are then copied by the kernel (when ``out`` offers ``copy_from_fd``) and
    hashed on a second thread, instead of passing through a buffer.
    """
    sink = _TarSink(out)
    snapshot = _Snapshot(sink, normalise_exclude(exclude), stable)
    source_fd = os.open(upper, OPEN_DIRECTORY)
    try:
        target_fd = os.open(target, OPEN_DIRECTORY)
        try:
            snapshot.target_root = target_fd
            snapshot.directory(source_fd, target_fd, b"")
        finally:
            os.close(target_fd)
    finally:
        os.close(source_fd)
    sink.add(tf.END_OF_ARCHIVE)
    sink.flush()
    return SnapshotLayer(
        diff_id=Digest("sha256", sink.hash.hexdigest()), size=snapshot.size, tar_size=sink.count
    )
