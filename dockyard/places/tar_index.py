"""Index the members of an uncompressed tar file in one pass, and read them in place.

The index reads each 512-byte header and skips the member's data with the offset
alone (``os.pread``), so indexing a 1 GB archive costs a few syscalls per member.
Members are then read through :class:`MemberReader`, a bounded reader at the
member's offset: no copy, no extraction, safe to use from several threads at once.

Every archive is hostile: member names are normalised and refused when absolute or
containing ``..``; sizes are checked against the file size (a truncated archive is
caught here, not halfway through a load); extended headers are size-limited. A
name that occurs twice resolves to its last occurrence, as extraction would.
Error texts follow Go's ``archive/tar`` as Docker prints them.
"""

from __future__ import annotations

import io
import os
import posixpath
from typing import Protocol

from dockyard.datarecord import dataclass
from dockyard.errors import InvalidArchive

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
MAX_MEMBERS = 200_000
MAX_EXTENDED_HEADER = 1 << 20  # PAX records and GNU long names
MAX_LINK_DEPTH = 16

FILE = "file"
DIRECTORY = "directory"
SYMLINK = "symlink"
HARDLINK = "hardlink"
OTHER = "other"

_KINDS = {
    b"0": FILE,
    b"\0": FILE,
    b"7": FILE,  # contiguous file
    b"5": DIRECTORY,
    b"2": SYMLINK,
    b"1": HARDLINK,
}
_HEADER_ONLY = frozenset({b"1", b"2", b"3", b"4", b"5", b"6"})


def tar_error(message: str) -> InvalidArchive:
    """Docker's wording: `Error processing tar file(exit status 1): <Go's archive/tar error>`."""
    if message == "invalid tar header":
        message = "archive/tar: invalid tar header"
    return InvalidArchive(f"Error processing tar file(exit status 1): {message}")


@dataclass(frozen=True)
class TarMember:
    name: str  # normalised: relative, no "." or ".." parts, no trailing slash
    kind: str  # FILE, DIRECTORY, SYMLINK, HARDLINK or OTHER
    offset: int  # absolute offset of the member's data in the file
    size: int
    linkname: str = ""


def pread_exact(fd: int, size: int, offset: int) -> bytes:
    """Read exactly ``size`` bytes at ``offset`` (fewer only at end of file)."""
    data = os.pread(fd, size, offset)
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        chunk = os.pread(fd, size - got, offset + got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def normalize_name(name: str) -> str | None:
    """The canonical form of a member path; None for the archive root ("./").

    Raises InvalidArchive for absolute paths and paths with ``..`` components.
    """
    if name.startswith("/") or ".." in name.split("/"):
        raise InvalidArchive(f"invalid archive: member {name!r} has an unsafe path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    return "/".join(parts) if parts else None


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256
        if field[0] & 0x40:
            raise tar_error("invalid tar header")  # negative
        raw = bytearray(field)
        raw[0] &= 0x7F
        return int.from_bytes(raw, "big")
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise tar_error("invalid tar header") from None


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = _number(block[148:156])
    except InvalidArchive:
        return False
    unsigned = sum(block) - sum(block[148:156]) + 8 * 0x20
    if stored == unsigned:
        return True
    signed = unsigned - 256 * sum(1 for b in block[:148] + block[156:] if b >= 0x80)
    return stored == signed


def _cstring(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _parse_pax(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            raise tar_error("invalid tar header")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise tar_error("invalid tar header") from None
        record = data[space + 1 : pos + length]
        if length <= space - pos or pos + length > len(data) or not record.endswith(b"\n"):
            raise tar_error("invalid tar header")
        key, sep, value = record[:-1].partition(b"=")
        if not sep:
            raise tar_error("invalid tar header")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def index_tar(fd: int, base: int, size: int) -> dict[str, TarMember]:
    """Index the tar stored in ``fd`` at ``[base, base + size)``: name -> member (last wins)."""
    members: dict[str, TarMember] = {}
    pos = 0
    long_name: str | None = None
    long_link: str | None = None
    pax: dict[str, str] = {}
    count = 0
    while True:
        block = pread_exact(fd, BLOCK, base + pos) if pos < size else b""
        if not block:
            if long_name is not None or long_link is not None or pax:
                raise tar_error("unexpected EOF")
            break  # no end-of-archive marker: accepted, as Go and GNU tar do
        if len(block) < BLOCK:
            raise tar_error("unexpected EOF")
        if block == _ZERO_BLOCK:
            break
        if not _checksum_ok(block):
            raise tar_error("invalid tar header")
        typeflag = block[156:157]
        length = _number(block[124:136])
        if "size" in pax:
            try:
                length = int(pax["size"])
            except ValueError:
                raise tar_error("invalid tar header") from None
            if length < 0:
                raise tar_error("invalid tar header")
        data_size = 0 if typeflag in _HEADER_ONLY else length
        data_offset = pos + BLOCK
        if data_offset + data_size > size:
            raise tar_error("unexpected EOF")
        pos = data_offset + (data_size + BLOCK - 1) // BLOCK * BLOCK

        if typeflag in (b"L", b"K", b"x", b"X", b"g"):
            if data_size > MAX_EXTENDED_HEADER:
                raise tar_error("extended header too large")
            data = pread_exact(fd, data_size, base + data_offset)
            if typeflag == b"L":
                long_name = _cstring(data)
            elif typeflag == b"K":
                long_link = _cstring(data)
            elif typeflag == b"g":
                _parse_pax(data)  # validated, otherwise ignored
            else:
                pax = _parse_pax(data)
            continue
        if typeflag == b"S" or any(key.startswith("GNU.sparse.") for key in pax):
            raise InvalidArchive("invalid archive: sparse tar members are not supported")

        magic = block[257:263]
        if pax.get("path") is not None:
            name = pax["path"]
        elif long_name is not None:
            name = long_name
        else:
            name = _cstring(block[0:100])
            if magic == b"ustar\x00":  # POSIX ustar (star keeps a shorter prefix)
                prefix_end = 476 if block[508:512] == b"tar\x00" else 500
                prefix = _cstring(block[345:prefix_end])
                if prefix:
                    name = f"{prefix}/{name}"
        linkname = pax.get("linkpath") if pax.get("linkpath") is not None else long_link
        if linkname is None:
            linkname = _cstring(block[157:257])
        long_name = long_link = None
        pax = {}

        kind = _KINDS.get(typeflag, OTHER)
        if kind == FILE and typeflag == b"\0" and name.endswith("/"):
            kind = DIRECTORY  # old V7 archives mark directories by the slash alone
        normalized = normalize_name(name)
        if kind == HARDLINK:
            normalize_name(linkname)  # a hardlink names a member: it must stay inside
        count += 1
        if count > MAX_MEMBERS:
            raise InvalidArchive(f"invalid archive: more than {MAX_MEMBERS} members")
        if normalized is None:
            continue
        members.pop(normalized, None)  # keep insertion order = order of last occurrence
        members[normalized] = TarMember(normalized, kind, base + data_offset, length, linkname)
    return members


def resolve(
    members: dict[str, TarMember], name: str, follow_links: bool = True
) -> TarMember | None:
    """The regular-file member that ``name`` designates, following links inside the archive.

    Returns None when the name is absent; raises InvalidArchive for links that leave the
    archive, dangle, loop, or when ``follow_links`` is false, and for non-regular members.
    """
    member = members.get(name)
    if member is None:
        return None
    origin = name
    for _ in range(MAX_LINK_DEPTH):
        if member.kind == FILE:
            return member
        if member.kind in (SYMLINK, HARDLINK):
            if not follow_links:
                raise InvalidArchive(
                    f"invalid archive: {origin!r} is a {member.kind}; a regular file is required"
                )
            if member.kind == SYMLINK:
                if member.linkname.startswith("/"):
                    raise InvalidArchive(
                        f"invalid archive: {origin!r} is a symlink pointing outside the archive"
                    )
                target = posixpath.normpath(
                    posixpath.join(posixpath.dirname(member.name), member.linkname)
                )
            else:
                target = posixpath.normpath(member.linkname)
            if target == ".." or target.startswith("../") or target.startswith("/"):
                raise InvalidArchive(
                    f"invalid archive: {origin!r} is a {member.kind} pointing outside the archive"
                )
            following = members.get(target)
            if following is None:
                raise InvalidArchive(
                    f"invalid archive: {origin!r} is a {member.kind} to {member.linkname!r}, "
                    "which is not in the archive"
                )
            member = following
            continue
        raise InvalidArchive(f"invalid archive: {origin!r} is a {member.kind}, not a regular file")
    raise InvalidArchive(f"invalid archive: too many levels of links at {origin!r}")


class HasFd(Protocol):
    fd: int


class MemberReader(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes at ``offset`` of a file.

    ``owner.fd`` is read at every call, so once the owner closes its descriptor (and
    sets ``fd`` to -1) a stale reader fails instead of reading a recycled descriptor.
    Reads use ``os.pread``: several readers may share one descriptor across threads.
    ``file_range`` lets a consumer copy the bytes with ``os.copy_file_range`` or
    ``os.sendfile``. Closing the reader does not close the descriptor.
    """

    def __init__(self, owner: HasFd, offset: int, size: int) -> None:
        super().__init__()
        self._owner = owner
        self._offset = offset
        self._size = size
        self._pos = 0

    @property
    def file_range(self) -> tuple[int, int, int]:
        """(fd, absolute offset, length) of the member's bytes."""
        return self._owner.fd, self._offset, self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            target = offset
        elif whence == os.SEEK_CUR:
            target = self._pos + offset
        elif whence == os.SEEK_END:
            target = self._size + offset
        else:
            raise ValueError(f"invalid whence: {whence}")
        if target < 0:
            raise ValueError("negative seek position")
        self._pos = target
        return target

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        remaining = self._size - self._pos
        if remaining <= 0:
            return 0
        view = memoryview(buffer).cast("B")
        want = min(len(view), remaining)
        got = os.preadv(self._owner.fd, [view[:want]], self._offset + self._pos)
        if got == 0:
            raise tar_error("unexpected EOF")
        self._pos += got
        return got

    def read(self, size: int | None = -1) -> bytes:
        remaining = max(self._size - self._pos, 0)
        if size is None or size < 0 or size > remaining:
            size = remaining
        if size == 0:
            return b""
        data = pread_exact(self._owner.fd, size, self._offset + self._pos)
        if len(data) < size:
            raise tar_error("unexpected EOF")
        self._pos += size
        return data

    def readall(self) -> bytes:
        return self.read(-1)
