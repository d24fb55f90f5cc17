"""Apply a (possibly compressed) tar layer onto an empty directory that becomes an
overlay lowerdir: OCI whiteouts turn into overlayfs whiteouts, and every entry
is written relative to directory fds without following symlinks, so a hostile
archive cannot write outside the target.

Reading, decompressing, teeing and hashing run in a read-ahead thread (they
release the GIL) while this thread parses with libarchive and writes the tree.
libarchive's own disk writer (archive_write_disk) was tried for the writing and
measured slower here; it also sets the umask to 0 and back for every entry,
which a multi-threaded process (the daemon) cannot allow."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from dockyard.datarecord import dataclass
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive
from dockyard.layers import _archive
from dockyard.layers._readahead import ReadAhead
from dockyard.layers._tee import Tee
from dockyard.layers._tree import Refused, Tree, display, split_name
from dockyard.layers.compression import CHUNK, open_decompressed
from dockyard.layers.limits import DEFAULT_LIMITS, Limits
from dockyard.layers.tarsplit import SplitRecorder
from dockyard.layers.whiteouts import (
    OPAQUE_MARKER,
    OPAQUE_XATTR,
    WHITEOUT_META_PREFIX,
    WHITEOUT_PREFIX,
)

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# xattrs an archive may not set: they would steer the overlay mount itself.
_FORBIDDEN_XATTRS = (b"trusted.overlay.", b"user.overlay.")
_IGNORED_XATTR_ERRORS = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM)
TAR_ERROR_PREFIX = "Error processing tar file(exit status 1): "  # Docker's wording
_MAX_ID = 2**32 - 1  # (uid_t)-1 means "unchanged" to chown: not an owner
_MAX_SECONDS = 2**34  # about the year 2514
# The per-entry getters, looked up once.
_pathname, _mode, _hardlink, _size = (
    _archive.entry_pathname,
    _archive.entry_mode,
    _archive.entry_hardlink,
    _archive.entry_size,
)
_uid, _gid, _mtime, _mtime_nsec = (
    _archive.entry_uid,
    _archive.entry_gid,
    _archive.entry_mtime,
    _archive.entry_mtime_nsec,
)
_xattr_count = _archive.xattr_count
_S_IFMT, _S_IFREG, _S_IFLNK = 0o170000, stat.S_IFREG, stat.S_IFLNK
_NO_XATTRS: list[tuple[bytes, bytes]] = []  # shared by entries without any: never changed
# Failures caused by what an entry asks for (as opposed to the disk failing).
_ENTRY_ERRORS = (
    errno.EEXIST,
    errno.EINVAL,
    errno.EISDIR,
    errno.ELOOP,
    errno.EMLINK,
    errno.ENAMETOOLONG,
    errno.ENOTDIR,
    errno.ENOTEMPTY,
    errno.EXDEV,
    errno.ENOENT,
)


@dataclass
class AppliedLayer:
    diff_id: Digest
    size: int  # Docker's layer Size: bytes of regular files plus symlink targets (lstat sizes)
    tar_size: int  # bytes of the uncompressed tar, end padding included
    # sha256 of the raw (possibly compressed) bytes, as the tee got them; None without a tee
    blob_digest: Digest | None = None
    tar_split: bool = False  # the tar is kept as a tar-split record, not by the tee


class _Entry:
    __slots__ = ("raw", "parts", "mode", "uid", "gid", "mtime_ns", "xattrs")

    def __init__(
        self,
        raw: bytes,  # the name as archived
        parts: list[bytes],
        mode: int,
        uid: int,
        gid: int,
        mtime_ns: int,
        xattrs: list[tuple[bytes, bytes]],
    ) -> None:
        self.raw = raw
        self.parts = parts
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime_ns = mtime_ns
        self.xattrs = xattrs

    @property
    def name(self) -> str:
        return _entry_name(self.raw)


def _refuse(name: str, reason: str) -> InvalidArchive:
    return InvalidArchive(f"invalid layer entry {name!r}: {reason}")


def _current_umask() -> int | None:
    """The process umask, read without changing it (os.umask would, for every thread)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return None


def _entry_name(raw: bytes | None) -> str:
    if raw is None:
        return "<unreadable name>"
    text = raw.decode("utf-8", "backslashreplace")
    return text if len(text) <= 200 else text[:200] + "..."


class _Applier:
    def __init__(
        self,
        tree: Tree,
        reader: _archive.TarReader,
        limits: Limits,
        split: SplitRecorder | None = None,
    ) -> None:
        self.tree = tree
        self.reader = reader
        self.limits = limits
        self.split = split
        self.claims = split is not None
        self.max_name, self.max_bytes = limits.max_name, limits.max_bytes
        self.max_entries = limits.max_entries
        self.is_root = os.geteuid() == 0
        self.entries = 0
        self.size = 0
        self.total_size = 0
        self.dirs: dict[tuple[bytes, ...], _Entry] = {}
        self.current_raw: bytes | None = None
        # A new file is ours (euid, egid) unless its directory hands down its own
        # group (setgid, or the grpid mount option). Directories we give another
        # group are remembered, and files below them are always chowned.
        root_info = os.fstat(tree.root_fd)
        self.own_uid, self.own_gid = os.geteuid(), os.getegid()
        self._foreign_key: list[bytes] | None = None
        self._foreign = False
        self.foreign_group_dirs: set[tuple[bytes, ...]] = set()
        if root_info.st_gid != self.own_gid or root_info.st_mode & stat.S_ISGID:
            self.foreign_group_dirs.add(())
        umask = _current_umask()
        self.plain_modes = None if umask is None else ~umask & 0o777

    @property
    def current(self) -> str:
        """The entry being applied, for messages."""
        if self.current_raw is None:
            return "<start of archive>" if not self.entries else "<unreadable name>"
        return _entry_name(self.current_raw)

    # -- one entry ------------------------------------------------------------------

    def handle(self, handle: int) -> None:
        raw = _pathname(handle) or _archive.entry_pathname_utf8(handle)
        self.current_raw = raw
        self.entries += 1
        if self.entries > self.max_entries:
            raise _refuse(
                self.current, f"the layer has more than {self.limits.max_entries} entries"
            )
        if raw is None:
            raise _refuse(self.current, "the name cannot be read")
        if len(raw) > self.max_name:
            raise _refuse(self.current, f"name longer than {self.limits.max_name} bytes")
        parts = split_name(raw)
        if WHITEOUT_META_PREFIX in raw and any(
            part.startswith(WHITEOUT_META_PREFIX) for part in parts[:-1]
        ):
            return  # inside aufs metadata (.wh..wh.plnk): Docker skips it too
        mode = _mode(handle)
        hardlink = _hardlink(handle)
        kind = mode & _S_IFMT
        size = _size(handle)
        if size < 0 or size > self.max_bytes:
            raise _refuse(
                self.current, f"size {size} exceeds the limit of {self.limits.max_bytes} bytes"
            )
        self.total_size += size
        if self.total_size > self.max_bytes:
            raise _refuse(
                self.current, f"entry sizes exceed the limit of {self.limits.max_bytes} bytes"
            )

        base = parts[-1] if parts else b""
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(self.current, parts, handle)
            return
        uid, gid = _uid(handle), _gid(handle)
        if not (0 <= uid < _MAX_ID and 0 <= gid < _MAX_ID):
            raise _refuse(self.current, f"invalid owner {uid}:{gid}")
        # Far-off times are clamped rather than refused (tar only warns about them).
        seconds = _mtime(handle)
        if not -_MAX_SECONDS <= seconds <= _MAX_SECONDS:
            seconds = min(max(seconds, -_MAX_SECONDS), _MAX_SECONDS)
        mtime_ns = seconds * 1_000_000_000 + _mtime_nsec(handle) % 1_000_000_000
        xattrs = _archive.entry_xattrs(handle) if _xattr_count(handle) else _NO_XATTRS
        if hardlink is None and parts:
            # The common entries, without building an _Entry.
            if kind == _S_IFREG or kind == 0:
                self.size += size
                self.regular(handle, parts, mode & 0o7777, uid, gid, mtime_ns, size, xattrs)
                return
            if kind == _S_IFLNK:
                self.symlink(handle, parts, uid, gid, mtime_ns, xattrs)
                return
        entry = _Entry(raw, parts, mode & 0o7777, uid, gid, mtime_ns, xattrs)
        if not parts and (hardlink is not None or kind != stat.S_IFDIR):
            raise _refuse(self.current, "the root of a layer can only be a directory")
        if hardlink is not None:
            self.hardlink(entry, hardlink)
        elif kind == stat.S_IFDIR:
            self.directory(entry)
        elif kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO):
            major, minor = _archive.entry_rdevmajor(handle), _archive.entry_rdevminor(handle)
            if major >= 2**32 or minor >= 2**32:
                raise _refuse(self.current, f"invalid device number {major}:{minor}")
            device = os.makedev(major, minor)
            self.node(entry, kind, device)
        # sockets cannot be archived meaningfully: skipped, as tar does

    def regular(
        self,
        handle: int,
        parts: list[bytes],
        mode: int,
        uid: int,
        gid: int,
        mtime_ns: int,
        size: int,
        xattrs: list[tuple[bytes, bytes]],
    ) -> None:
        parent = self.tree.parent_fd(parts)
        base = parts[-1]
        # The fd is writable whatever the mode: open(O_CREAT) checks no permission.
        initial = mode & 0o777
        try:
            fd = os.open(base, _FILE_FLAGS, initial, dir_fd=parent)
        except FileExistsError:
            self.clear(parent, base, parts, keep_dir=False)
            fd = os.open(base, _FILE_FLAGS, initial, dir_fd=parent)
        try:
            if size:
                sparse = _archive.entry_sparse_count(handle) > 0
                if self.claims and not sparse and (self.is_root or mode & 0o400):
                    # the file's bytes are the tar's: the tar-split record points here
                    self.split.claim(self.reader.position(), size, b"/".join(parts))  # type: ignore[union-attr]
                self.reader.data_into_fd(fd)
                if sparse:
                    os.ftruncate(fd, size)  # libarchive leaves out a trailing hole
            # chown drops setuid bits and writes drop capabilities: data, owner,
            # mode, xattrs, times in that order.
            if self.is_root and self.needs_chown(parts, uid, gid):
                os.fchown(fd, uid, gid)
            if self.plain_modes is None or mode != initial & self.plain_modes:
                os.fchmod(fd, mode)
            if xattrs:
                self.set_xattrs(xattrs, fd)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)

    def symlink(
        self,
        handle: int,
        parts: list[bytes],
        uid: int,
        gid: int,
        mtime_ns: int,
        xattrs: list[tuple[bytes, bytes]],
    ) -> None:
        target = _archive.entry_symlink(handle) or b""
        if len(target) > self.limits.max_name:
            raise _refuse(self.current, f"link target longer than {self.limits.max_name} bytes")
        if not target:
            raise _refuse(self.current, "symlink with an empty target")
        self.size += len(target)  # overlay2's DiffSize counts a symlink's lstat size
        parent = self.tree.parent_fd(parts)
        base = parts[-1]
        self._replace(parent, base, parts, lambda: os.symlink(target, base, dir_fd=parent))
        if self.needs_chown(parts, uid, gid):
            os.chown(base, uid, gid, dir_fd=parent, follow_symlinks=False)
        if xattrs:
            self.set_xattrs(xattrs, b"/proc/self/fd/%d/%s" % (parent, base))
        os.utime(base, ns=(mtime_ns, mtime_ns), dir_fd=parent, follow_symlinks=False)

    def _replace(self, parent: int, base: bytes, parts: list[bytes], make) -> None:
        """Run ``make`` (which creates ``base``, at ``parts``); if something is in the
        way, a later entry replaces it as tar does."""
        try:
            make()
        except FileExistsError:
            self.clear(parent, base, parts, keep_dir=False)
            make()

    def clear(self, parent: int, base: bytes, parts: list[bytes], keep_dir: bool) -> bool:
        """Tree.clear, except that what holds bytes of a file written earlier (which
        the tar-split record points to) is moved aside instead of removed."""
        if self.split is not None and self.split.covers(parts):
            try:
                info = os.lstat(base, dir_fd=parent)
            except FileNotFoundError:
                return False
            if keep_dir and stat.S_ISDIR(info.st_mode):
                return True
            # (the tree's cached directory is ``parent``, never inside what moves)
            self.split.rescue(parent, base, parts)
            return False
        return self.tree.clear(parent, base, keep_dir)

    def whiteout(self, name: str, parts: list[bytes], handle: int) -> None:
        base = parts[-1]
        parent = self.tree.parent_fd(parts)
        if base == OPAQUE_MARKER:
            os.setxattr(f"/proc/self/fd/{parent}", OPAQUE_XATTR, b"y")
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # other aufs metadata
        hidden = base[len(WHITEOUT_PREFIX) :]
        if hidden in (b"", b".", b".."):
            raise _refuse(name, "whiteout of an invalid name")
        self._replace(
            parent,
            hidden,
            [*parts[:-1], hidden],
            lambda: os.mknod(hidden, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent),
        )
        uid, gid = _archive.entry_uid(handle), _archive.entry_gid(handle)
        if self.is_root and 0 <= uid < _MAX_ID and 0 <= gid < _MAX_ID:
            os.chown(hidden, uid, gid, dir_fd=parent, follow_symlinks=False)

    def directory(self, entry: _Entry) -> None:
        if entry.parts:
            parent = self.tree.parent_fd(entry.parts)
            base = entry.parts[-1]
            try:
                os.mkdir(base, 0o700, dir_fd=parent)
            except FileExistsError:
                if not self.clear(parent, base, entry.parts, keep_dir=True):
                    os.mkdir(base, 0o700, dir_fd=parent)
            # lchown-style calls: the name is a directory we just made or kept.
            if self.needs_chown(entry.parts, entry.uid, entry.gid):
                os.chown(base, entry.uid, entry.gid, dir_fd=parent, follow_symlinks=False)
            if entry.xattrs:
                self.set_xattrs(entry.xattrs, b"/proc/self/fd/%d/%s" % (parent, base))
        else:
            fd = os.open(".", _DIR_OPEN, dir_fd=self.tree.root_fd)
            try:
                if self.is_root:  # not made by us: whatever its owner, it gets the entry's
                    os.fchown(fd, entry.uid, entry.gid)
                if entry.xattrs:
                    self.set_xattrs(entry.xattrs, fd)
            finally:
                os.close(fd)
        # Mode and times are set once all children exist (see finish).
        key = tuple(entry.parts)
        self.dirs[key] = entry
        if entry.gid != self.own_gid:
            self.foreign_group_dirs.add(key)
            self._foreign_key = None  # forget the remembered answer

    def node(self, entry: _Entry, kind: int, device: int) -> None:
        parent = self.tree.parent_fd(entry.parts)
        base = entry.parts[-1]
        try:
            self._replace(
                parent,
                base,
                entry.parts,
                lambda: os.mknod(base, kind | 0o600, device, dir_fd=parent),
            )
        except PermissionError:
            if kind != stat.S_IFIFO and not self.is_root:
                return  # devices need privileges; an unprivileged apply skips them
            raise
        self.path_metadata(entry, parent, base, chmod=True)

    def hardlink(self, entry: _Entry, raw_target: bytes) -> None:
        if len(raw_target) > self.limits.max_name:
            raise _refuse(entry.name, f"link target longer than {self.limits.max_name} bytes")
        try:
            target = split_name(raw_target)
        except Refused as refused:
            raise _refuse(
                entry.name, f"hardlink target {_entry_name(raw_target)!r}: {refused}"
            ) from None
        if not target or not entry.parts:
            raise _refuse(entry.name, "hardlink to or of the root directory")
        if target == entry.parts:
            return  # a link to itself: nothing to do
        try:
            source_dir = self.tree.lookup(target[:-1], create=False)
        except Refused as refused:
            raise _refuse(entry.name, f"hardlink target {display(target)!r}: {refused}") from None
        try:
            try:
                info = os.lstat(target[-1], dir_fd=source_dir)
            except FileNotFoundError:
                raise _refuse(
                    entry.name, f"hardlink target {display(target)!r} does not exist"
                ) from None
            if stat.S_ISDIR(info.st_mode):
                raise _refuse(entry.name, f"hardlink target {display(target)!r} is a directory")
            parent = self.tree.parent_fd(entry.parts)
            base = entry.parts[-1]
            self._replace(
                parent,
                base,
                entry.parts,
                lambda: os.link(
                    target[-1],
                    base,
                    src_dir_fd=source_dir,
                    dst_dir_fd=parent,
                    follow_symlinks=False,
                ),
            )
        finally:
            os.close(source_dir)

    # -- metadata -------------------------------------------------------------------

    def set_xattrs(self, xattrs: list[tuple[bytes, bytes]], where: int | bytes) -> None:
        """Set the current entry's xattrs on an fd, or on a path without following it."""
        for key, value in xattrs:
            if key.startswith(_FORBIDDEN_XATTRS):
                continue
            try:
                if isinstance(where, int):
                    os.setxattr(where, key, value)
                else:
                    os.setxattr(where, key, value, follow_symlinks=False)
            except OSError as error:
                if error.errno in _IGNORED_XATTR_ERRORS:
                    continue
                raise _refuse(
                    self.current, f"cannot set xattr {_entry_name(key)!r}: {error}"
                ) from None

    def needs_chown(self, parts: list[bytes], uid: int, gid: int) -> bool:
        """Whether a new ``parts`` must be chowned to get ``uid``:``gid`` (it is
        ours, with our group unless a directory above hands down its own)."""
        if not self.is_root:
            return False
        if uid != self.own_uid or gid != self.own_gid:
            return True
        if not self.foreign_group_dirs:
            return False
        key = parts[:-1]  # the answer is the same for every entry of a directory
        if key != self._foreign_key:
            self._foreign_key = key
            self._foreign = any(
                tuple(parts[:depth]) in self.foreign_group_dirs for depth in range(len(parts))
            )
        return self._foreign

    def path_metadata(self, entry: _Entry, parent: int, base: bytes, chmod: bool) -> None:
        if self.is_root:
            os.chown(base, entry.uid, entry.gid, dir_fd=parent, follow_symlinks=False)
        if chmod:
            # Just created by us as a non-symlink, so following is harmless here.
            os.chmod(base, entry.mode, dir_fd=parent)
        if entry.xattrs:
            self.set_xattrs(entry.xattrs, b"/proc/self/fd/%d/%s" % (parent, base))
        times = (entry.mtime_ns, entry.mtime_ns)
        os.utime(base, ns=times, dir_fd=parent, follow_symlinks=False)

    def finish(self) -> None:
        """Directory modes and times, once nothing more is created inside them."""
        for parts, entry in self.dirs.items():
            try:
                fd = self.tree.open_dir(parts, os.O_RDONLY | os.O_CLOEXEC)
            except Refused:
                continue  # replaced by a later entry
            except OSError as error:
                if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EXDEV):
                    continue  # replaced by a later entry
                raise
            try:
                os.fchmod(fd, entry.mode)
                os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
            finally:
                os.close(fd)


def apply_layer(
    stream: BinaryIO,
    target: Path,
    *,
    limits: Limits = DEFAULT_LIMITS,
    tee: BinaryIO | None = None,
    tar_split: Path | None = None,
) -> AppliedLayer:
    """Extract a layer (tar, optionally gzip/zstd/bzip2/xz) into the empty
    directory ``target``. On error the target may be partly filled (the caller
    removes it); nothing outside it is touched.

    ``tee`` gets a copy of the raw bytes; with ``tar_split``, an uncompressed layer is
    not copied there but kept as a tar-split record at that path (layers/tarsplit.py:
    the record beside the tree, files a later entry replaces in ``rescued/`` there)."""
    teed = Tee(stream, tee, keep_plain=tar_split is None) if tee is not None else None
    raw: BinaryIO = teed if teed is not None else stream  # type: ignore[assignment]
    decompressed = open_decompressed(raw, max_output=limits.max_bytes)
    # Read the unbuffered stream below (nothing is buffered yet): short reads
    # suit libarchive, and the size limit then fails at the entry crossing it.
    data = getattr(decompressed, "raw", decompressed)
    split = None
    if tar_split is not None and getattr(data, "kind", None) == "none":
        split = SplitRecorder(target, tar_split)

    def rest_of_raw() -> None:
        while raw.read(CHUNK):  # the rest of the raw stream reaches the tee too
            pass

    source = ReadAhead(data.readinto, rest_of_raw, split)
    tree: Tree | None = None
    reader: _archive.TarReader | None = None
    applier: _Applier | None = None
    try:
        tree = Tree(target)
        reader = _archive.TarReader(source.fill)  # reads the first block to check the format
        applier = _Applier(tree, reader, limits, split)
        for handle in reader.entries():
            try:
                applier.handle(handle)
            except Refused as refused:
                raise _refuse(applier.current, str(refused)) from None
            except OSError as error:
                if error.errno not in _ENTRY_ERRORS:
                    raise
                raise _refuse(applier.current, error.strerror or str(error)) from None
        applier.finish()
        source.drain()
        if split is not None:
            split.write(source.count)
    except _archive.ArchiveFailure as failure:
        raise _describe_failure(str(failure), applier, source.count) from None
    except InvalidArchive as error:
        if applier is not None and applier.entries and "entry" not in str(error):
            raise InvalidArchive(f"{error} (at entry {applier.current!r})") from None
        raise
    finally:
        source.close()
        if reader is not None:
            reader.close()
        if tree is not None:
            tree.close()
        if split is not None:
            split.close()
    tar_hexdigest = source.hash.hexdigest()
    return AppliedLayer(
        diff_id=Digest("sha256", tar_hexdigest),
        size=applier.size,
        tar_size=source.count,
        blob_digest=None if teed is None else Digest("sha256", teed.raw_hexdigest(tar_hexdigest)),
        tar_split=split is not None,
    )


def _describe_failure(message: str, applier: _Applier | None, size: int) -> InvalidArchive:
    """Docker's words for a stream that is not (or stops being) a tar, with libarchive's
    own message and the entry reached added when there is more to say."""
    lowered = message.lower()
    if "truncated" in lowered or "premature end" in lowered or 0 < size < 512:
        reason = "unexpected EOF"  # Go's archive/tar, short of a whole header
    else:
        reason = "archive/tar: invalid tar header"
    text = f"{TAR_ERROR_PREFIX}{reason}"
    if applier is not None and applier.entries:
        return InvalidArchive(f"{text} (at entry {applier.current!r}: {message})")
    return InvalidArchive(text)
