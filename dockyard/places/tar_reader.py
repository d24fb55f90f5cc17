"""The members of a tar archive given as a path or a stream, indexed once and read in
place from a regular file.

An uncompressed archive in a regular file is read where it is; a compressed one (gzip,
bzip2, xz, zstd: by magic bytes, as Docker does) or a pipe is decompressed or spooled
once into an anonymous temporary file. Python's tarfile reads the headers and seeks
past the data. Every archive is hostile: names leaving the archive, sparse members,
oversized extended headers, truncation and garbage are refused here, in the words of
Go's archive/tar as Docker prints them; a name given twice means its last occurrence,
as extraction would.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from dockyard.errors import DockyardError, InvalidArchive, InvalidArgument, NotFound
from dockyard.layers.compression import detect_compression, open_decompressed
from dockyard.places.layout_format import MemberFile, invalid
from dockyard.streams import PrefixedReader

BLOCK = 512
CHUNK = 1 << 20
MAX_MEMBERS = 200_000
MAX_EXTENDED_HEADER = 1 << 20  # PAX records and GNU long names
MAX_LINK_DEPTH = 16
_PAX = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
_EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, *_PAX)
_KINDS = {tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink", tarfile.DIRTYPE: "directory"}


def tar_error(message: str) -> InvalidArchive:
    """Docker's wording: `Error processing tar file(exit status 1): <Go's archive/tar error>`."""
    return InvalidArchive(f"Error processing tar file(exit status 1): {message}")


def normalize_name(name: str) -> str:
    """A member path made canonical (relative, no "." parts, no trailing slash; "" for
    the root); an absolute path or one with ``..`` is refused."""
    if name.startswith("/") or ".." in name.split("/"):
        raise invalid(f"member {name!r} has an unsafe path")
    return "/".join(part for part in name.split("/") if part not in ("", "."))


class TarArchive:
    """A tar archive's regular file and its members by name, for the layout reader
    (``find``); readers it hands out fail once ``close()`` has freed the file."""

    kind = "archive"

    def __init__(self, source: Path | str | BinaryIO, tmpdir: Path | str) -> None:
        self.compression: str | None = None  # of the archive as given
        self.fd = -1
        if isinstance(source, (str, os.PathLike)):
            with open_input(source) as stream:
                self._open(stream, Path(tmpdir))
        else:
            self._open(source, Path(tmpdir))
        try:
            self.members = self._index()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __contains__(self, name: str) -> bool:
        return name in self.members

    def _open(self, stream: BinaryIO, tmpdir: Path) -> None:
        fd = _regular_fd(stream)
        if fd is not None:
            self.base = stream.tell()
            self.size = max(os.fstat(fd).st_size - self.base, 0)
            if detect_compression(os.pread(fd, 6, self.base)) == "none":
                self.fd = os.dup(fd)  # a plain tar in a file: read in place
                return
        head = _read_head(stream)
        kind = detect_compression(head)
        self.compression = None if kind == "none" else kind
        with tempfile.TemporaryFile(dir=tmpdir) as spool:
            try:
                for data in _plain_chunks(PrefixedReader(head, stream), kind):
                    spool.write(data)
                spool.flush()
            except OSError as error:
                raise DockyardError(f"write {tmpdir}: {(error.strerror or '').lower()}") from None
            self.fd, self.base, self.size = os.dup(spool.fileno()), 0, spool.tell()

    def _index(self) -> dict[str, tarfile.TarInfo]:
        """Every member by its normalised name; tarfile stops quietly at a broken header
        that is not the first, so where it stopped is checked too."""
        members: dict[str, tarfile.TarInfo] = {}
        headers = MemberReader(self, self.base, self.size)
        try:
            tar = tarfile.TarFile(fileobj=headers, mode="r", tarinfo=_CheckedTarInfo)
            while (info := tar.next()) is not None:
                if info.sparse is not None:  # GNU's; PAX's are refused in _proc_pax
                    raise invalid("sparse tar members are not supported")
                if info.size < 0:
                    raise tar_error("archive/tar: invalid tar header")
                if len(tar.members) > MAX_MEMBERS:
                    raise invalid(f"more than {MAX_MEMBERS} members")
                if info.islnk():
                    normalize_name(info.linkname)  # a hardlink names a member: it stays inside
                info.name = normalize_name(info.name)
                if info.name:
                    members[info.name] = info
        except tarfile.ReadError as error:
            if str(error) == "empty file":
                return {}
            eof = any(word in str(error) for word in ("truncated", "end of data"))
            raise tar_error(
                "unexpected EOF" if eof else "archive/tar: invalid tar header"
            ) from None
        except (tarfile.TarError, ValueError, UnicodeError):
            raise tar_error("archive/tar: invalid tar header") from None
        stop = os.pread(self.fd, BLOCK, self.base + tar.offset) if tar.offset < self.size else b""
        if 0 < len(stop) < BLOCK:
            raise tar_error("unexpected EOF")
        if stop and stop != bytes(BLOCK):
            raise tar_error("archive/tar: invalid tar header")
        return members  # no end-of-archive marker is accepted, as Go and GNU tar do

    def find(self, path: Any, what: str, follow_links: bool = True) -> MemberFile:
        """The regular file ``path`` names, following links that stay inside the archive."""
        if not isinstance(path, str) or not path:
            raise invalid(f"{what}: path must be a non-empty string")
        if path.startswith("/") or ".." in path.split("/"):
            raise invalid(f"{what} refers to {path!r}, which is outside the archive")
        origin = normalize_name(path)
        member = self.members.get(origin)
        if member is None:
            raise invalid(f"{what} refers to {path!r}, which is not in the archive")
        for _ in range(MAX_LINK_DEPTH):
            if member.isreg():
                return MemberFile(member.size, self._opener(member))
            kind = _KINDS.get(member.type, "other")
            if not member.issym() and not member.islnk():
                raise invalid(f"{origin!r} is a {kind}, not a regular file")
            if not follow_links:
                raise invalid(f"{origin!r} is a {kind}; a regular file is required")
            base = posixpath.dirname(member.name) if member.issym() else ""
            target = posixpath.normpath(posixpath.join(base, member.linkname))
            if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
                raise invalid(f"{origin!r} is a {kind} pointing outside the archive")
            if target not in self.members:
                raise invalid(
                    f"{origin!r} is a {kind} to {member.linkname!r}, which is not in the archive"
                )
            member = self.members[target]
        raise invalid(f"too many levels of links at {origin!r}")

    def _opener(self, member: tarfile.TarInfo) -> Any:
        offset, size = self.base + member.offset_data, member.size

        @contextmanager
        def open_member() -> Iterator[BinaryIO]:
            if self.fd < 0:
                raise invalid("the archive has been closed")
            with MemberReader(self, offset, size) as reader:
                yield reader  # type: ignore[misc]

        return open_member


class _CheckedTarInfo(tarfile.TarInfo):
    """tarfile's header, with what Go's archive/tar refuses and tarfile lets through:
    extended headers over 1 MiB, malformed PAX records (tarfile skips them), sparse
    members in PAX records."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _EXTENDED and self.size > MAX_EXTENDED_HEADER:
            raise tar_error("extended header too large")
        if self.type in _PAX:
            start = tar.fileobj.tell()  # type: ignore[union-attr]
            _check_pax_records(tar.fileobj.read(self.size))  # type: ignore[union-attr]
            tar.fileobj.seek(start)  # type: ignore[union-attr]
        return super()._proc_member(tar)  # type: ignore[misc]


def _check_pax_records(data: bytes) -> None:
    """Each record is ``<length> <key>=<value>\\n``, its length its own."""
    pos = 0
    while pos < len(data):
        length, space, _ = data[pos : pos + 24].partition(b" ")
        end = pos + int(length) if space and length.isdigit() else -1
        record = data[pos + len(length) + 1 : end] if pos + len(length) < end <= len(data) else b""
        if not record.endswith(b"\n") or b"=" not in record:
            raise tarfile.InvalidHeaderError("invalid pax record")
        if record.startswith(b"GNU.sparse."):
            raise invalid("sparse tar members are not supported")
        pos = end


class MemberReader(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes at ``offset`` of ``archive.fd``, read
    with pread so that readers in several threads share the descriptor. ``file_range``
    lets a writer copy the bytes in the kernel; closing the view keeps the descriptor."""

    def __init__(self, archive: TarArchive, offset: int, size: int) -> None:
        super().__init__()
        self._archive, self._offset, self._size, self._pos = archive, offset, size, 0

    @property
    def file_range(self) -> tuple[int, int, int]:
        """(fd, absolute offset, length) of the bytes."""
        return self._archive.fd, self._offset, self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._pos = max(offset + (0, self._pos, self._size)[whence], 0)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")[: max(self._size - self._pos, 0)]
        if not view:
            return 0
        got = os.preadv(self._archive.fd, [view], self._offset + self._pos)
        if got == 0:
            raise tar_error("unexpected EOF")
        self._pos += got
        return got


def open_input(path: str | os.PathLike[str]) -> BinaryIO:
    """A file given on the command line, opened with Docker's error texts."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise NotFound(f"open {path}: no such file or directory") from None
    except IsADirectoryError:
        raise InvalidArgument(f"read {path}: is a directory") from None
    except PermissionError:
        raise InvalidArgument(f"open {path}: permission denied") from None
    except OSError as error:
        raise InvalidArgument(f"open {path}: {(error.strerror or '').lower()}") from None
    return stream


def _regular_fd(stream: BinaryIO) -> int | None:
    """The descriptor of a stream over a regular file (read in place), else None."""
    try:
        fd = stream.fileno()
        return fd if stat.S_ISREG(os.fstat(fd).st_mode) and stream.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _read_head(stream: BinaryIO) -> bytes:
    head = b""
    while len(head) < 6 and (data := stream.read(6 - len(head))):
        head += data
    return head


def _plain_chunks(stream: Any, kind: str) -> Iterator[bytes | memoryview]:
    """The decompressed bytes of ``stream``; corrupt or cut-short data is refused."""
    try:
        if kind == "zstd":
            yield from _zstd_chunks(stream)
            return
        reader, buffer = open_decompressed(stream), memoryview(bytearray(CHUNK))
        while n := reader.readinto(buffer):
            yield buffer[:n]
    except InvalidArchive as error:
        raise invalid(f"corrupt {kind} stream ({error})") from None


def _zstd_chunks(stream: Any) -> Iterator[bytes]:
    """Every zstd frame decompressed; unlike zstandard's stream_reader, a frame cut
    short is an error."""
    import zstandard

    context = zstandard.ZstdDecompressor()
    decoder, pending = context.decompressobj(), False
    try:
        while chunk := stream.read(CHUNK):
            while chunk:
                pending = True
                yield decoder.decompress(chunk)
                chunk = b""
                if decoder.eof:
                    chunk, decoder, pending = decoder.unused_data, context.decompressobj(), False
    except zstandard.ZstdError as error:
        raise InvalidArchive(f"invalid zstd data: {error}") from None
    if pending:
        raise InvalidArchive("truncated zstd stream")
