"""Turn an archive source (a path or a stream) into a plain tar in a regular file.

An uncompressed archive in a regular file is used in place. A compressed archive
(gzip, bzip2, xz, zstd: detected by magic bytes, as Docker does) or a non-seekable
stream (stdin, a pipe) is decompressed or spooled once into an anonymous temporary
file under ``tmpdir`` (created and unlinked at once: nothing is left behind, even
after a crash).
"""

from __future__ import annotations

import bz2
import lzma
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import DockyardError, InvalidArchive, InvalidArgument, NotFound

CHUNK = 1 << 20

_MAGIC = (
    (b"\x1f\x8b\x08", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
MAGIC_LENGTH = 6


def sniff_compression(head: bytes) -> str | None:
    """'gzip', 'bzip2', 'xz', 'zstd' or None (plain) from the first bytes of a stream."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


class ArchiveFile:
    """A plain tar at ``[base, base + size)`` of the regular file ``fd`` (owned: closed by close())."""

    def __init__(self, fd: int, base: int, size: int, compression: str | None, spooled: bool):
        self.fd = fd
        self.base = base
        self.size = size
        self.compression = compression  # of the original source
        self.spooled = spooled  # True when the tar lives in a temporary file

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def open_source(source: Path | str | BinaryIO, tmpdir: Path) -> ArchiveFile:
    if isinstance(source, (str, os.PathLike)):
        return _open_path(Path(source), Path(tmpdir))
    return _open_stream(source, Path(tmpdir))


def _open_path(path: Path, tmpdir: Path) -> ArchiveFile:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"open {path}: no such file or directory") from None
    except PermissionError:
        raise InvalidArgument(f"open {path}: permission denied") from None
    except OSError as error:
        raise InvalidArgument(f"open {path}: {error.strerror.lower()}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InvalidArgument(f"read {path}: is a directory")
        if stat.S_ISREG(mode):
            result = _use_in_place(fd, 0)
            if result is not None:
                return result  # owns fd now
    except BaseException:
        os.close(fd)
        raise
    # compressed, or not a regular file (a FIFO, /dev/stdin): decompress or spool
    with os.fdopen(fd, "rb", buffering=0) as stream:
        return _spool(stream, tmpdir)  # type: ignore[arg-type]


def _open_stream(stream: BinaryIO, tmpdir: Path) -> ArchiveFile:
    try:
        fd = stream.fileno()
        regular = stat.S_ISREG(os.fstat(fd).st_mode) and stream.seekable()
    except (AttributeError, OSError, ValueError):
        regular = False
    if regular:
        base = stream.tell()
        dup = os.dup(fd)
        try:
            result = _use_in_place(dup, base)
        except BaseException:
            os.close(dup)
            raise
        if result is not None:
            return result
        os.close(dup)
    return _spool(stream, tmpdir)


def _use_in_place(fd: int, base: int) -> ArchiveFile | None:
    """An ArchiveFile over ``fd`` itself when it holds a plain tar, else None."""
    size = os.fstat(fd).st_size - base
    if sniff_compression(os.pread(fd, MAGIC_LENGTH, base)) is None:
        return ArchiveFile(fd, base, max(size, 0), None, False)
    return None


def _read_head(stream: BinaryIO) -> bytes:
    head = b""
    while len(head) < MAGIC_LENGTH:
        chunk = stream.read(MAGIC_LENGTH - len(head))
        if not chunk:
            break
        head += chunk
    return head


class _Prepended:
    """A stream that yields ``head`` and then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._stream.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._stream.read(size)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


def _spool(stream: BinaryIO, tmpdir: Path) -> ArchiveFile:
    head = _read_head(stream)
    compression = sniff_compression(head)
    source = _Prepended(head, stream)
    fd, name = tempfile.mkstemp(prefix="archive-", suffix=".tar", dir=tmpdir)
    os.unlink(name)
    try:
        writer = _writer(fd, tmpdir)
        if compression is None:
            _copy_plain(source, writer)
        else:
            _DECOMPRESSORS[compression](source, writer)
        size = os.lseek(fd, 0, os.SEEK_END)
    except BaseException:
        os.close(fd)
        raise
    return ArchiveFile(fd, 0, size, compression, True)


def _writer(fd: int, tmpdir: Path) -> Callable[[bytes | memoryview], None]:
    def write(data: bytes | memoryview) -> None:
        view = memoryview(data)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError as error:
            raise DockyardError(f"write {tmpdir}: {error.strerror.lower()}") from None

    return write


def _copy_plain(source: _Prepended, write: Callable[[bytes | memoryview], None]) -> None:
    while True:
        chunk = source.read(CHUNK)
        if not chunk:
            return
        write(chunk)


def _corrupt(kind: str, error: BaseException) -> InvalidArchive:
    if isinstance(error, EOFError):
        return InvalidArchive(f"invalid archive: {kind} stream is truncated (unexpected EOF)")
    detail = str(error) or type(error).__name__
    return InvalidArchive(f"invalid archive: corrupt {kind} stream: {detail}")


def _copy_file_like(kind: str, reader, write: Callable[[bytes | memoryview], None]) -> None:
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    try:
        while True:
            n = reader.readinto(view)
            if not n:
                return
            write(view[:n])
    except (OSError, EOFError, lzma.LZMAError, ValueError) as error:
        raise _corrupt(kind, error) from None


def _gunzip(source: _Prepended, write: Callable[[bytes | memoryview], None]) -> None:
    from isal import igzip

    with igzip.GzipFile(fileobj=source, mode="rb") as reader:  # type: ignore[arg-type]
        _copy_file_like("gzip", reader, write)


def _bunzip2(source: _Prepended, write: Callable[[bytes | memoryview], None]) -> None:
    with bz2.BZ2File(source) as reader:  # type: ignore[arg-type]
        _copy_file_like("bzip2", reader, write)


def _unxz(source: _Prepended, write: Callable[[bytes | memoryview], None]) -> None:
    with lzma.LZMAFile(source) as reader:  # type: ignore[arg-type]
        _copy_file_like("xz", reader, write)


def _unzstd(source: _Prepended, write: Callable[[bytes | memoryview], None]) -> None:
    """Decompress every zstd frame; a frame cut short is an error (stream_reader hides it)."""
    import zstandard

    context = zstandard.ZstdDecompressor()
    decoder = context.decompressobj()
    pending = False  # the current frame has started but not ended
    try:
        while True:
            chunk = source.read(CHUNK)
            if not chunk:
                break
            while chunk:
                pending = True
                out = decoder.decompress(chunk)
                if out:
                    write(out)
                if decoder.eof:
                    chunk = decoder.unused_data
                    decoder = context.decompressobj()
                    pending = False
                else:
                    chunk = b""
    except zstandard.ZstdError as error:
        raise _corrupt("zstd", error) from None
    if pending:
        raise _corrupt("zstd", EOFError())


_DECOMPRESSORS: dict[str, Callable[[_Prepended, Callable[[bytes | memoryview], None]], None]] = {
    "gzip": _gunzip,
    "bzip2": _bunzip2,
    "xz": _unxz,
    "zstd": _unzstd,
}
