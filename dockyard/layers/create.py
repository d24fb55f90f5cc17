"""Write a directory tree as a deterministic, uncompressed tar layer.

Entries come in sorted pre-order (a directory, then its children by byte
order), named relative to the source without "./", directories with a trailing
"/". Owners are numeric (empty user and group names) and mtimes whole seconds,
as Docker writes layers, so the same tree always gives the same bytes.
`write_tree` can add user and group names looked up in the tree's own
/etc/passwd and /etc/group, as `docker export` does (see `owners`).

`create_layer` hashes what it writes (a layer needs its diff ID); `write_tree`
does not, and when the output is a real file or pipe it moves file data with
sendfile(2) instead of through Python (`export`).
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dockyard.datarecord import dataclass
from dockyard.layers import tarformat as tf
from dockyard.layers.treeread import OPEN_DIRECTORY, OPEN_FILE, carried_xattrs, normalise_exclude
from dockyard.layers.whiteouts import OPAQUE_MARKER, WHITEOUT_PREFIX, is_opaque

if TYPE_CHECKING:
    from hashlib import _Hash

    from dockyard.digest import Digest

_FLUSH_AT = 1 << 20
_READ_CHUNK = 1 << 20
_SENDFILE_AT = 1 << 16  # smaller files are read into the write buffer (fewer syscalls)
# sendfile(2) refuses this pair of descriptors: copy through Python instead.
_NO_SENDFILE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV, errno.EBADF)


@dataclass
class CreatedLayer:
    diff_id: Digest
    size: int  # sum of the sizes of regular files
    tar_size: int  # bytes written, end-of-archive blocks included


@dataclass
class WrittenTree:
    size: int  # sum of the sizes of regular files
    tar_size: int  # bytes written, end-of-archive blocks included


def _file_descriptor(out: BinaryIO) -> int | None:
    """The descriptor behind ``out`` when it is a plain file object (file, pipe,
    stdout), flushed so that writes to the descriptor land after its contents."""
    raw = out.raw if isinstance(out, io.BufferedWriter | io.BufferedRandom) else out
    if not isinstance(raw, io.FileIO) or raw.closed:
        return None
    out.flush()
    return raw.fileno()


class _Writer:
    """Counts and writes the tar (hashing it when asked); small pieces are
    gathered into ~1 MiB writes. With ``fd``, writes go straight to that
    descriptor and larger files are copied by the kernel (sendfile) unless
    hashing needs their bytes.

    (A writer thread was measured slower, for hashing and for sendfile alike:
    the GIL hand-offs cost more CPU than the overlap saved on two cores.)"""

    def __init__(self, out: BinaryIO, *, hashing: bool, fd: int | None = None) -> None:
        self._out = out
        self._fd = fd
        self._pending = bytearray()
        self.hash: _Hash | None = None
        if hashing:
            import hashlib  # not for export: loading OpenSSL costs a few ms

            self.hash = hashlib.sha256()
        self._sendfile = fd is not None and not hashing
        self.count = 0
        self.size = 0

    def add(self, data: bytes) -> None:
        self._pending += data
        if len(self._pending) >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            # A fresh buffer each time: the sink may keep the object it was given.
            pending, self._pending = self._pending, bytearray()
            self.count += len(pending)
            self._output(pending)

    def close(self) -> None:
        self.flush()

    def file_data(self, fd: int, size: int) -> None:
        """Exactly ``size`` bytes of the open file (zero-padded if it shrank
        meanwhile, cut if it grew); closes ``fd``."""
        self.size += size
        if size <= _READ_CHUNK and not (self._sendfile and size >= _SENDFILE_AT):
            try:
                data = os.read(fd, size) if size else b""
            finally:
                os.close(fd)
            self._pending += data
            if len(data) < size:
                self._pending += bytes(size - len(data))
        else:
            try:
                self.flush()
            except BaseException:
                os.close(fd)
                raise
            self.count += size
            self._copy(fd, size)
        self._pending += tf.padding(size)
        if len(self._pending) >= _FLUSH_AT:
            self.flush()

    def _output(self, data: bytes | bytearray) -> None:
        if self.hash is not None:
            self.hash.update(data)
        if self._fd is None:
            self._out.write(data)
        else:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]

    def _copy(self, fd: int, size: int) -> None:
        """Write exactly ``size`` bytes of the file; closes ``fd``."""
        try:
            done = self._send(fd, size) if self._sendfile else 0
            while done < size:
                want = min(size - done, _READ_CHUNK)
                data = os.pread(fd, want, done) or bytes(want)  # shrunk: pad with zeros
                self._output(data)
                done += len(data)
        finally:
            os.close(fd)

    def _send(self, fd: int, size: int) -> int:
        """Copy what the kernel will of the first ``size`` bytes; returns how many."""
        assert self._fd is not None
        done = 0
        while done < size:
            try:
                sent = os.sendfile(self._fd, fd, done, size - done)
            except OSError as error:
                if error.errno not in _NO_SENDFILE:
                    raise
                self._sendfile = False
                break
            if not sent:
                break  # end of file: the file shrank
            done += sent
        return done


class _Creator:
    """Walks the tree by directory descriptors (each name looked up once, relative
    to its open parent) and writes the entries.

    The tree is one directory, or (``merge``) a stack of overlayfs layer
    directories, top first, read as the overlay would show them mounted:
    the topmost entry of a name wins, whiteouts (c 0 0) hide it below,
    directories merge down to an opaque one or to a layer where the name is
    not a directory."""

    def __init__(
        self,
        sources: Sequence[Path],
        writer: _Writer,
        overlay_upper: bool,
        exclude: set[bytes],
        merge: bool = False,
        owner_names: bool = False,
    ):
        self.sources = [os.fsencode(source) for source in sources]
        self.writer = writer
        self.overlay_upper = overlay_upper
        self.exclude = exclude
        self.merge = merge
        self.inodes: dict[tuple[int, int], bytes] = {}
        self.header = tf.encode_header
        if owner_names:
            from dockyard.layers.owners import read_owner_names

            names = read_owner_names(self.sources, merge=merge)
            user, group = names.user, names.group

            def named_header(
                name: bytes, kind: bytes, mode: int, uid: int, gid: int, mtime: int, **options
            ) -> bytes:
                return tf.encode_header(
                    name, kind, mode, uid, gid, mtime, uname=user(uid), gname=group(gid), **options
                )

            self.header = named_header

    def run(self) -> None:
        stack: list[int] = []
        try:
            for source in self.sources:
                try:
                    stack.append(os.open(source, OPEN_DIRECTORY & ~os.O_NOFOLLOW))
                except FileNotFoundError:
                    if not self.merge:
                        return
            self.directory(stack, b"")
        finally:
            for fd in stack:
                os.close(fd)

    def directory(self, stack: list[int], relative: bytes) -> None:
        """The entries under ``relative``, whose directories are open in ``stack``."""
        try:
            if len(stack) == 1:
                dfd = stack[0]
                listing = [(name, stack) for name in sorted(map(os.fsencode, os.listdir(dfd)))]
            else:
                listing = _merged_listing(stack)
        except FileNotFoundError:
            return  # removed while we walked (a running container)
        exclude = self.exclude
        for name, present in listing:
            child = relative + b"/" + name if relative else name
            if exclude and child in exclude:
                continue
            self.entry(present, name, child)

    def entry(self, present: list[int], name: bytes, relative: bytes) -> None:
        """One name, found in the directories ``present`` (top first)."""
        dfd = present[0]
        try:
            info = os.lstat(name, dir_fd=dfd)
        except FileNotFoundError:
            return
        mode = info.st_mode
        kind = stat.S_IFMT(mode)
        uid, gid, mtime = info.st_uid, info.st_gid, info.st_mtime_ns // 1_000_000_000
        add = self.writer.add
        header = self.header
        if kind == stat.S_IFREG:
            if info.st_nlink > 1 and self.hardlinked(info, relative):
                return
            try:
                fd = os.open(name, OPEN_FILE, dir_fd=dfd)
            except OSError as error:
                if error.errno in (errno.ENOENT, errno.ELOOP):
                    return  # removed or replaced since lstat (a running container)
                raise
            size = info.st_size
            try:
                xattrs = carried_xattrs(fd)
                add(header(relative, tf.REGULAR, mode, uid, gid, mtime, size=size, xattrs=xattrs))
            except BaseException:
                os.close(fd)
                raise
            self.writer.file_data(fd, size)
            return
        if kind == stat.S_IFDIR:
            stack = self.open_directories(present, name)
            if not stack:
                return
            try:
                xattrs = carried_xattrs(stack[0])
                add(header(relative + b"/", tf.DIRECTORY, mode, uid, gid, mtime, xattrs=xattrs))
                if self.overlay_upper and is_opaque(stack[0]):
                    marker = relative + b"/" + OPAQUE_MARKER
                    add(header(marker, tf.REGULAR, mode & 0o777, uid, gid, mtime))
                self.directory(stack, relative)
            finally:
                for fd in stack:
                    os.close(fd)
            return
        if kind == stat.S_IFCHR and info.st_rdev == 0:
            if self.merge:
                return  # a whiteout: hides the name
            if self.overlay_upper:
                head, _, tail = relative.rpartition(b"/")
                whiteout = (head + b"/" if head else b"") + WHITEOUT_PREFIX + tail
                add(header(whiteout, tf.REGULAR, mode & 0o777, uid, gid, mtime))
                return
        if kind == stat.S_IFSOCK:
            return  # tar cannot carry sockets; Docker skips them too
        if info.st_nlink > 1 and self.hardlinked(info, relative):
            return
        xattrs = carried_xattrs(b"/proc/self/fd/%d/%s" % (dfd, name))
        if kind == stat.S_IFLNK:
            try:
                target = os.readlink(name, dir_fd=dfd)
            except FileNotFoundError:
                return
            add(header(relative, tf.SYMLINK, mode, uid, gid, mtime, linkname=target, xattrs=xattrs))
        elif kind in (stat.S_IFCHR, stat.S_IFBLK):
            type_flag = tf.CHARDEV if kind == stat.S_IFCHR else tf.BLOCKDEV
            major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
            add(
                header(
                    relative,
                    type_flag,
                    mode,
                    uid,
                    gid,
                    mtime,
                    devmajor=major,
                    devminor=minor,
                    xattrs=xattrs,
                )
            )
        elif kind == stat.S_IFIFO:
            add(header(relative, tf.FIFO, mode, uid, gid, mtime, xattrs=xattrs))

    def open_directories(self, present: list[int], name: bytes) -> list[int]:
        """The directory ``name`` opened in each layer that contributes to it, top first
        (the first of ``present`` is known to hold a directory); [] if it went away."""
        stack: list[int] = []
        try:
            for index, dfd in enumerate(present):
                if index:
                    below = os.lstat(name, dir_fd=dfd).st_mode
                    if not stat.S_ISDIR(below):
                        break  # a whiteout or a non-directory ends the merge
                try:
                    stack.append(os.open(name, OPEN_DIRECTORY, dir_fd=dfd))
                except OSError as error:
                    if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                        break  # removed or replaced since lstat (a running container)
                    raise
                if index + 1 < len(present) and is_opaque(stack[-1]):
                    break
        except BaseException:
            for fd in stack:
                os.close(fd)
            raise
        return stack

    def hardlinked(self, info: os.stat_result, relative: bytes) -> bool:
        """Write a hardlink entry when this inode was seen before; True if written."""
        first = self.inodes.setdefault((info.st_dev, info.st_ino), relative)
        if first == relative:
            return False
        mtime = info.st_mtime_ns // 1_000_000_000
        self.writer.add(
            self.header(
                relative, tf.HARDLINK, info.st_mode, info.st_uid, info.st_gid, mtime, linkname=first
            )
        )
        return True


def _merged_listing(stack: list[int]) -> list[tuple[bytes, list[int]]]:
    """Each name of the merged directory, sorted, with the layers that hold it (top first)."""
    holders: dict[bytes, list[int]] = {}
    for dfd in stack:
        for name in os.listdir(dfd):
            holders.setdefault(os.fsencode(name), []).append(dfd)
    return sorted(holders.items())


def _write(creator: _Creator) -> None:
    creator.run()
    creator.writer.add(tf.END_OF_ARCHIVE)
    creator.writer.close()


def create_layer(
    source: Path,
    out: BinaryIO,
    *,
    overlay_upper: bool = False,
    exclude: Iterable[str] = (),
) -> CreatedLayer:
    """Write the tree under ``source`` to ``out`` as an uncompressed tar.

    With ``overlay_upper``, ``source`` is an overlayfs upper directory: whiteout
    devices (c 0 0) become ``.wh.NAME`` entries and opaque directories get a
    ``.wh..wh..opq`` entry. ``exclude`` names relative paths to leave out.
    """
    from dockyard.digest import Digest

    writer = _Writer(out, hashing=True)
    _write(_Creator([source], writer, overlay_upper, normalise_exclude(exclude)))
    assert writer.hash is not None
    return CreatedLayer(
        diff_id=Digest("sha256", writer.hash.hexdigest()), size=writer.size, tar_size=writer.count
    )


def write_tree(
    source: Path | Sequence[Path],
    out: BinaryIO,
    *,
    overlay_upper: bool = False,
    exclude: Iterable[str] = (),
    owner_names: bool = False,
) -> WrittenTree:
    """The same bytes as `create_layer`, without the diff ID: nothing is hashed,
    and when ``out`` is a file or a pipe, file data goes by sendfile(2).

    ``source`` may be a list of overlayfs layer directories, top first (no
    ``overlay_upper`` then): the tar is that of the overlay mounted read-only
    from them, read without mounting it. The layers must hold plain whiteouts
    and opaque markers only (no redirect_dir or metacopy xattrs).

    With ``owner_names`` (export only: a layer's bytes must not depend on it),
    headers carry the user and group names that the tree's own /etc/passwd and
    /etc/group give, read through the same view, as `docker export` writes them."""
    writer = _Writer(out, hashing=False, fd=_file_descriptor(out))
    exclusions = normalise_exclude(exclude)
    if isinstance(source, list | tuple):
        if overlay_upper:
            raise ValueError("a stack of layers has no overlay upper directory")
        _write(_Creator(source, writer, False, exclusions, True, owner_names))
    else:
        _write(_Creator([source], writer, overlay_upper, exclusions, False, owner_names))
    return WrittenTree(size=writer.size, tar_size=writer.count)
