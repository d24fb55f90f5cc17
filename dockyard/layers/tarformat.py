"""Deterministic tar header encoding: ustar when a member fits, pax records
(path, linkpath, size, uid, gid, mtime, uname, gname, SCHILY.xattr.*) when it
does not."""

from __future__ import annotations

import zlib

BLOCK = 512
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)

REGULAR = b"0"
HARDLINK = b"1"
SYMLINK = b"2"
CHARDEV = b"3"
BLOCKDEV = b"4"
DIRECTORY = b"5"
FIFO = b"6"
PAX = b"x"

_PAX_NAME = b"././@PaxHeader"


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def _octal(value: int, length: int) -> bytes | None:
    """A NUL-terminated octal field, or None when the value does not fit."""
    digits = length - 1
    if 0 <= value < 8**digits:
        return b"%0*o\0" % (digits, value)
    return None


def _base256(value: int, length: int) -> bytes:
    """GNU's binary number encoding, for device numbers too large for octal."""
    return bytes([0x80]) + value.to_bytes(length - 1, "big")


def _split_ustar(name: bytes) -> tuple[bytes, bytes] | None:
    """(prefix, name) for the ustar fields, or None when the name does not fit."""
    if len(name) <= 100:
        return b"", name
    # The prefix ends at a slash; the remaining name must be 1..100 bytes.
    start = max(0, len(name) - 101)
    for index in range(start, min(len(name), 156)):
        if name[index : index + 1] == b"/" and 0 < len(name) - index - 1 <= 100:
            return name[:index], name[index + 1 :]
    return None


def _pax_record(key: bytes, value: bytes) -> bytes:
    body = b" %s=%s\n" % (key, value)
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return str(length).encode() + body


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _fits_ustar_name(name: bytes) -> bool:
    """Whether Go's tar writer keeps a user or group name in the ustar field."""
    return len(name) <= 32 and name.isascii()


def _ascii(name: bytes) -> bytes:
    """Go's toASCII: the name without its non-ASCII bytes."""
    return name if name.isascii() else bytes(byte for byte in name if byte < 0x80)


def _checksum(header: bytes) -> int:
    # adler32's low half is 1 + the byte sum mod 65521; 256 bytes sum to at most
    # 65280, so two halves give the exact sum at C speed.
    return (zlib.adler32(header[:256]) & 0xFFFF) + (zlib.adler32(header[256:]) & 0xFFFF) - 2


def _block(
    name: bytes,
    prefix: bytes,
    mode: bytes,
    uid: bytes,
    gid: bytes,
    size: bytes,
    mtime: bytes,
    kind: bytes,
    linkname: bytes,
    devmajor: bytes,
    devminor: bytes,
    uname: bytes = b"",
    gname: bytes = b"",
) -> bytes:
    header = b"".join(
        (
            name.ljust(100, b"\0"),
            mode,
            uid,
            gid,
            size,
            mtime,
            b" " * 8,
            kind,
            linkname.ljust(100, b"\0"),
            b"ustar\x0000",
            uname.ljust(32, b"\0"),  # empty unless asked (export), so layers do not
            gname.ljust(32, b"\0"),  # depend on any /etc/passwd
            devmajor,
            devminor,
            prefix.ljust(155, b"\0"),
            b"\0" * 12,
        )
    )
    return header[:148] + b"%06o\0 " % _checksum(header) + header[156:]


_SMALL = 8**7  # fits an 8-byte octal field
_LARGE = 8**11  # fits a 12-byte octal field
_FAST = b"%s%07o\0%07o\0%07o\0%011o\0%011o\0        %s%sustar\x0000%s%07o\0%07o\0%s"
_NAMES_AND_GAP = b"\0" * 64
_TAIL = b"\0" * 167


def encode_header(
    name: bytes,
    kind: bytes,
    mode: int,
    uid: int,
    gid: int,
    mtime: int,
    *,
    size: int = 0,
    linkname: bytes = b"",
    devmajor: int = 0,
    devminor: int = 0,
    xattrs: list[tuple[bytes, bytes]] | None = None,
    uname: bytes = b"",
    gname: bytes = b"",
) -> bytes:
    """The header block(s) of one member: a pax header first when needed.

    ``uname`` and ``gname`` go in the ustar fields when they are ASCII and at
    most 32 bytes; otherwise, as Go's archive/tar writes them, in pax records,
    with the ustar field holding their ASCII bytes cut to 32."""
    names = _NAMES_AND_GAP
    if uname or gname:
        if b"\0" in uname or b"\0" in gname:
            raise ValueError("a user or group name holds a NUL byte")
        if _fits_ustar_name(uname) and _fits_ustar_name(gname):
            names = uname.ljust(32, b"\0") + gname.ljust(32, b"\0")
        else:
            names = b""  # the pax path below
    if (
        names
        and len(name) <= 100
        and len(linkname) <= 100
        and not xattrs
        and 0 <= uid < _SMALL
        and 0 <= gid < _SMALL
        and 0 <= size < _LARGE
        and 0 <= mtime < _LARGE
        and devmajor < _SMALL
        and devminor < _SMALL
    ):
        header = _FAST % (
            name.ljust(100, b"\0"),
            mode & 0o7777,
            uid,
            gid,
            size,
            mtime,
            kind,
            linkname.ljust(100, b"\0"),
            names,
            devmajor,
            devminor,
            _TAIL,
        )
        return header[:148] + b"%06o\0 " % _checksum(header) + header[156:]
    pax: dict[bytes, bytes] = {}
    split = _split_ustar(name)
    if split is None:
        pax[b"path"] = name
        split = b"", name[:100]
    if len(linkname) > 100:
        pax[b"linkpath"] = linkname
        linkname = linkname[:100]
    fields = {}
    for key, value, length in (
        (b"uid", uid, 8),
        (b"gid", gid, 8),
        (b"size", size, 12),
        (b"mtime", mtime, 12),
    ):
        encoded = _octal(value, length)
        if encoded is None:
            pax[key] = str(value).encode()
            encoded = _octal(0, length)
        fields[key] = encoded
    for key, value in xattrs or ():
        pax[b"SCHILY.xattr." + key] = value
    for key, value in ((b"uname", uname), (b"gname", gname)):
        if not _fits_ustar_name(value):
            pax[key] = value
    if (b"path" in pax and not _is_utf8(pax[b"path"])) or (
        b"linkpath" in pax and not _is_utf8(pax[b"linkpath"])
    ):
        pax[b"hdrcharset"] = b"BINARY"
    block = _block(
        split[1],
        split[0],
        _octal(mode & 0o7777, 8),  # type: ignore[arg-type]
        fields[b"uid"],
        fields[b"gid"],
        fields[b"size"],
        fields[b"mtime"],
        kind,
        linkname,
        _octal(devmajor, 8) or _base256(devmajor, 8),
        _octal(devminor, 8) or _base256(devminor, 8),
        _ascii(uname)[:32],
        _ascii(gname)[:32],
    )
    if not pax:
        return block
    records = b"".join(_pax_record(key, pax[key]) for key in sorted(pax))
    pax_block = _block(
        _PAX_NAME,
        b"",
        _octal(0o644, 8),  # type: ignore[arg-type]
        _octal(0, 8),  # type: ignore[arg-type]
        _octal(0, 8),  # type: ignore[arg-type]
        _octal(len(records), 12),  # type: ignore[arg-type]
        _octal(0, 12),  # type: ignore[arg-type]
        PAX,
        b"",
        _octal(0, 8),  # type: ignore[arg-type]
        _octal(0, 8),  # type: ignore[arg-type]
    )
    return pax_block + records + padding(len(records)) + block
