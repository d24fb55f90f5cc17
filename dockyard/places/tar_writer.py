"""Write a deterministic tar stream: fixed headers, and member data copied by the kernel.

Headers carry mtime 0, uid/gid 0 (``root``), mode 0644 for files and 0755 for
directories, so the same input always gives the same bytes. Member data is copied
with ``os.copy_file_range`` (or ``os.sendfile``) when source and destination are
real files, else through a large buffer.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from typing import BinaryIO

from dockyard.errors import DockyardError
from dockyard.places.tar_index import BLOCK

COPY_BUFFER = 4 << 20
_FALLBACK_ERRNOS = frozenset(
    {errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF, errno.EPERM}
)


def header(name: str, size: int = 0, directory: bool = False) -> bytes:
    info = tarfile.TarInfo(name + "/" if directory and not name.endswith("/") else name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.size = 0 if directory else size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    # PAX only when a field does not fit ustar (a member of 8 GiB or more)
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> bytes:
    return bytes(-size % BLOCK)


END_OF_ARCHIVE = bytes(2 * BLOCK)


def _fileno(stream: object) -> int | None:
    try:
        return stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None


def _source_range(src: BinaryIO) -> tuple[int, int] | None:
    """(fd, offset) of a source whose bytes the kernel can copy, else None."""
    file_range = getattr(src, "file_range", None)
    if file_range is not None:
        fd, offset, _ = file_range
        return fd, offset + src.tell()
    fd = _fileno(src)
    if fd is None:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return fd, src.tell()
    except (OSError, ValueError):
        return None


def _kernel_copy(src_fd: int, offset: int, out_fd: int, size: int) -> tuple[int, bool]:
    """Copy up to ``size`` bytes in the kernel: (bytes copied, source ended early)."""
    done = 0
    for method in ("copy_file_range", "sendfile"):
        try:
            while done < size:
                count = min(size - done, 1 << 30)
                if method == "copy_file_range":
                    n = os.copy_file_range(src_fd, out_fd, count, offset + done)
                else:
                    n = os.sendfile(out_fd, src_fd, offset + done, count)
                if n == 0:
                    return done, True
                done += n
            return done, False
        except OSError as error:
            if error.errno not in _FALLBACK_ERRNOS:
                raise
    return done, False


def copy_exact(src: BinaryIO, out: BinaryIO, size: int, what: str) -> None:
    """Copy exactly ``size`` bytes from ``src`` to ``out``; a shorter source is an error."""
    done = 0
    source = _source_range(src)
    out_fd = _fileno(out)
    if source is not None and out_fd is not None and size:
        out.flush()
        done, ended = _kernel_copy(source[0], source[1], out_fd, size)
        if done and out.seekable():
            out.seek(os.lseek(out_fd, 0, os.SEEK_CUR))  # resync the file object's position
        if ended:
            raise DockyardError(f"{what}: expected {size} bytes, read only {done}")
        if done == size:
            return
        if done:
            src.seek(done, os.SEEK_CUR)
    buffer = bytearray(min(COPY_BUFFER, max(size - done, 1)))
    view = memoryview(buffer)
    readinto = getattr(src, "readinto", None)
    while done < size:
        want = min(len(view), size - done)
        if readinto is not None:
            n = readinto(view[:want]) or 0
            chunk: bytes | memoryview = view[:n]
        else:
            chunk = src.read(want)
            n = len(chunk)
        if not n:
            raise DockyardError(f"{what}: expected {size} bytes, read only {done}")
        out.write(chunk)
        done += n
