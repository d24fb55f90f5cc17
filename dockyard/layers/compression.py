"""Layer compression: detection by magic bytes, streaming decompression with a bomb
guard, and fast gzip (ISA-L) and zstd compression."""

from __future__ import annotations

import bz2
import io
import lzma
from typing import BinaryIO

from dockyard.errors import DockyardError, InvalidArchive

CHUNK = 1 << 20
_MAGIC_LENGTH = 6


def detect_compression(head: bytes) -> str:
    """Name the compression of a stream from its first bytes (6 are enough)."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    # "BZh" plus the block size digit: a bare "BZh" could begin a tar member name.
    if head.startswith(b"BZh") and head[3:4] in (b"123456789"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return "none"


class _SourceError(Exception):
    """Carries an error raised by the underlying stream through a decompressor."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _Prefixed(io.RawIOBase):
    """The already-read magic bytes followed by the rest of the stream."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream
        self._readinto = getattr(stream, "readinto", None)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        try:
            if self._readinto is not None:
                return self._readinto(buffer) or 0
            data = self._stream.read(len(buffer))
        except Exception as error:
            raise _SourceError(error) from error
        buffer[: len(data)] = data
        return len(data)


class _Limited(io.RawIOBase):
    """Counts decompressed bytes, refuses past a limit, and turns decoder errors
    into InvalidArchive."""

    def __init__(self, inner, kind: str, max_output: int | None) -> None:
        self._inner = inner
        self.kind = kind  # "none" for an uncompressed stream
        self._max = max_output
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        if self._max is not None:
            # Never hand out more than the limit: whoever reads (a tar parser)
            # then fails at the entry that crosses it, and can say which.
            room = self._max - self.count
            view = view[: max(room, 1)]
        try:
            n = self._inner.readinto(view) or 0
        except _SourceError as wrapped:
            raise wrapped.error from None
        except DockyardError:
            raise
        except EOFError:
            raise InvalidArchive(f"truncated {self.kind} stream") from None
        except Exception as error:
            # Decoders raise OSError, ValueError, LZMAError, ZstdError, IsalError...
            raise InvalidArchive(f"invalid {self.kind} data: {error}") from None
        self.count += n
        if self._max is not None and self.count > self._max:
            raise InvalidArchive(f"layer data exceeds the limit of {self._max} bytes")
        return n


def _read_head(stream: BinaryIO) -> bytes:
    head = b""
    while len(head) < _MAGIC_LENGTH:
        data = stream.read(_MAGIC_LENGTH - len(head))
        if not data:
            break
        head += data
    return head


def open_decompressed(stream: BinaryIO, max_output: int | None = None) -> BinaryIO:
    """A readable stream of the decompressed bytes of ``stream`` (gzip, zstd,
    bzip2, xz or none, detected by magic). Raises InvalidArchive when more than
    ``max_output`` bytes come out or the compressed data is corrupt."""
    head = _read_head(stream)
    kind = detect_compression(head)
    source = _Prefixed(head, stream)
    inner: BinaryIO
    if kind == "gzip":
        from isal.isal_zlib import _GzipReader

        # ISA-L's C reader itself (IGzipFile wraps it in a BufferedReader, and its
        # readinto copies every decompressed byte once more)
        inner = _GzipReader(source, CHUNK)
    elif kind == "zstd":
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(
            source, read_size=CHUNK, read_across_frames=True, closefd=False
        )
    elif kind == "bzip2":
        inner = bz2.BZ2File(source)
    elif kind == "xz":
        inner = lzma.LZMAFile(source)
    else:
        inner = source  # type: ignore[assignment]
    return io.BufferedReader(_Limited(inner, kind, max_output), CHUNK)  # type: ignore[return-value]


def _pump(src: BinaryIO, transform, dst: BinaryIO) -> None:
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    readinto = getattr(src, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(buffer)
            if not n:
                break
            data = transform(view[:n])
        else:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            data = transform(chunk)
        if data:
            dst.write(data)


def compress_gzip(src: BinaryIO, dst: BinaryIO, level: int = 1) -> None:
    """Gzip ``src`` into ``dst`` with ISA-L (levels 0-3), streaming."""
    from isal import isal_zlib

    compressor = isal_zlib.compressobj(level, isal_zlib.DEFLATED, 31)
    _pump(src, compressor.compress, dst)
    dst.write(compressor.flush())


def compress_zstd(src: BinaryIO, dst: BinaryIO, level: int = 3) -> None:
    """Zstd-compress ``src`` into ``dst`` (multi-threaded; the output does not
    depend on the number of cores)."""
    import zstandard

    compressor = zstandard.ZstdCompressor(level=level, threads=-1)
    compressor.copy_stream(src, dst, read_size=CHUNK, write_size=CHUNK)
