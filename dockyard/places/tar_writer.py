"""Write a layout's files as a deterministic tar, member data copied by the kernel.

Members come in name order, each directory before what it holds; headers carry mtime
0, uid/gid 0 (``root``), mode 0644 for files and 0755 for directories, so the same
input always gives the same bytes. Data is copied with ``os.copy_file_range`` (or
``os.sendfile``) when source and destination are real files, else through a buffer.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from dockyard.errors import DockyardError
from dockyard.places.layout_format import LayoutFiles, file_size

BLOCK = 512
END_OF_ARCHIVE = bytes(2 * BLOCK)
COPY_BUFFER = 4 << 20
_NO_KERNEL_COPY = {
    errno.EXDEV,
    errno.EINVAL,
    errno.ENOSYS,
    errno.EOPNOTSUPP,
    errno.EBADF,
    errno.EPERM,
}


def header(name: str, size: int = -1) -> bytes:
    """A file's header, or a directory's (``size`` -1)."""
    info = tarfile.TarInfo(name + "/" if size < 0 else name)
    info.type, info.mode = (tarfile.DIRTYPE, 0o755) if size < 0 else (tarfile.REGTYPE, 0o644)
    info.size, info.mtime, info.uid, info.gid = max(size, 0), 0, 0, 0
    info.uname = info.gname = "root"
    # PAX only when a field does not fit ustar (a member of 8 GiB or more)
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _members(files: LayoutFiles) -> list[tuple[str, int]]:
    """(name, size) in archive order, directories (size -1) included."""
    members = {name: file_size(content) for name, content in files.items()}
    for name in files:
        parts = name.split("/")
        members.update(("/".join(parts[:depth]), -1) for depth in range(1, len(parts)))
    return sorted(members.items(), key=lambda member: member[0] + "/" * (member[1] < 0))


def tar_size(files: LayoutFiles) -> int:
    """The exact byte count ``write_tar`` writes (a Content-Length)."""
    return len(END_OF_ARCHIVE) + sum(
        len(header(name, size)) + max(size, 0) + -max(size, 0) % BLOCK
        for name, size in _members(files)
    )


def write_tar(out: BinaryIO, files: LayoutFiles) -> None:
    for name, size in _members(files):
        out.write(header(name, size))
        content = files.get(name)
        if isinstance(content, bytes):
            out.write(content)
        elif content is not None:
            with content.open() as stream:
                copy_exact(stream, out, size, name)
        out.write(bytes(-max(size, 0) % BLOCK))
    out.write(END_OF_ARCHIVE)
    out.flush()


def copy_exact(src: BinaryIO, out: BinaryIO, size: int, what: str) -> None:
    """Copy exactly ``size`` bytes from ``src`` to ``out``; a shorter source is an error."""
    chunks = getattr(src, "chunks", None)  # a source with buffers of its own (tar-split)
    if chunks is not None:
        _copy_chunks(chunks(), out, size, what)
        return
    done = _kernel_copy(src, out, size)
    buffer = memoryview(bytearray(min(COPY_BUFFER, max(size - done, 1))))
    readinto = getattr(src, "readinto", None)
    while done < size:
        want = buffer[: size - done]
        data = want[: readinto(want) or 0] if readinto else src.read(len(want))
        if not data:
            raise DockyardError(f"{what}: expected {size} bytes, read only {done}")
        out.write(data)
        done += len(data)


def _copy_chunks(chunks: Iterator[memoryview], out: BinaryIO, size: int, what: str) -> None:
    done = 0
    for chunk in chunks:
        if done + len(chunk) > size:
            raise DockyardError(f"{what}: more than the expected {size} bytes")
        out.write(chunk)
        done += len(chunk)
    if done < size:
        raise DockyardError(f"{what}: expected {size} bytes, read only {done}")


def _kernel_copy(src: BinaryIO, out: BinaryIO, size: int) -> int:
    """Copy what the kernel can of ``size`` bytes; how many were copied (``src`` moved
    past them)."""
    source, out_fd = _source_range(src), _fileno(out)
    if source is None or out_fd is None or not size:
        return 0
    src_fd, offset = source
    out.flush()
    done = 0
    for copy in (os.copy_file_range, lambda i, o, n, at: os.sendfile(o, i, at, n)):
        try:
            while done < size and (
                n := copy(src_fd, out_fd, min(size - done, 1 << 30), offset + done)
            ):
                done += n
            break
        except OSError as error:
            if error.errno not in _NO_KERNEL_COPY:
                raise
    if done:
        if out.seekable():
            out.seek(os.lseek(out_fd, 0, os.SEEK_CUR))  # the file object's position, again
        src.seek(done, os.SEEK_CUR)
    return done


def _fileno(stream: Any) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _source_range(src: BinaryIO) -> tuple[int, int] | None:
    """(fd, offset) of a source whose bytes the kernel can copy, else None."""
    file_range = getattr(src, "file_range", None)
    if file_range is not None:
        return file_range[0], file_range[1] + src.tell()
    fd = _fileno(src)
    try:
        return (fd, src.tell()) if fd is not None and stat.S_ISREG(os.fstat(fd).st_mode) else None
    except (OSError, ValueError):
        return None
