"""A thin ctypes binding to libarchive's tar reader, on the library that
libarchive-c loads.

libarchive-c's own entry objects decode names as text and its block reader
ignores sparse offsets; here names stay bytes and file data goes straight to a
file descriptor (``archive_read_data_into_fd``: no copy through Python).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterator
from ctypes import POINTER, c_char_p, c_int, c_int64, c_long, c_size_t, c_ssize_t, c_uint, c_void_p

_SONAME = "libarchive.so.13"  # libarchive 3.x


def _load() -> tuple[ctypes.CDLL, ctypes.PyDLL]:
    """The library libarchive-c loads ($LIBARCHIVE, else find_library's answer,
    which is the soname), without importing libarchive-c: its find_library runs
    ldconfig in a subprocess, a tenth of a second at every start. Two handles on
    it: one releasing the GIL during calls, one keeping it (``_held``)."""
    path = os.environ.get("LIBARCHIVE")
    if not path:
        try:
            return ctypes.CDLL(_SONAME), ctypes.PyDLL(_SONAME)
        except OSError:
            from libarchive import ffi

            path = ffi.libarchive_path
    return ctypes.CDLL(path), ctypes.PyDLL(path)


# Handles of our own: function objects on libarchive-c's handle carry its errcheck
# hooks and argument types, which must stay as it set them. The getters go through
# ``_held``: they only read memory, and releasing and taking back the GIL would cost
# more than the call and hand the GIL to another thread at every entry field.
_lib, _held = _load()

ARCHIVE_EOF = 1
ARCHIVE_OK = 0
ARCHIVE_WARN = -20

READ_CALLBACK = ctypes.CFUNCTYPE(c_ssize_t, c_void_p, c_void_p, POINTER(c_void_p))
_NO_OPEN = ctypes.cast(None, ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p))
_NO_CLOSE = ctypes.cast(None, ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p))


def _bind(name: str, argtypes: list, restype, library: ctypes.CDLL = _lib):
    function = getattr(library, name)
    function.argtypes = argtypes
    function.restype = restype
    return function


_read_new = _bind("archive_read_new", [], c_void_p)
_read_free = _bind("archive_read_free", [c_void_p], c_int)
_support_tar = _bind("archive_read_support_format_tar", [c_void_p], c_int)
_support_empty = _bind("archive_read_support_format_empty", [c_void_p], c_int)
_read_open = _bind(
    "archive_read_open", [c_void_p, c_void_p, c_void_p, READ_CALLBACK, c_void_p], c_int
)
_next_header = _bind("archive_read_next_header", [c_void_p, POINTER(c_void_p)], c_int)
_data_into_fd = _bind("archive_read_data_into_fd", [c_void_p, c_int], c_int)
_error_string = _bind("archive_error_string", [c_void_p], c_char_p)
_errno = _bind("archive_errno", [c_void_p], c_int)
_filter_bytes = _bind("archive_filter_bytes", [c_void_p, c_int], c_int64, _held)

entry_pathname = _bind("archive_entry_pathname", [c_void_p], c_char_p, _held)
entry_pathname_utf8 = _bind("archive_entry_pathname_utf8", [c_void_p], c_char_p, _held)
entry_hardlink = _bind("archive_entry_hardlink", [c_void_p], c_char_p, _held)
entry_symlink = _bind("archive_entry_symlink", [c_void_p], c_char_p, _held)
entry_mode = _bind("archive_entry_mode", [c_void_p], c_uint, _held)
entry_uid = _bind("archive_entry_uid", [c_void_p], c_int64, _held)
entry_gid = _bind("archive_entry_gid", [c_void_p], c_int64, _held)
entry_size = _bind("archive_entry_size", [c_void_p], c_int64, _held)
entry_mtime = _bind("archive_entry_mtime", [c_void_p], c_int64, _held)
entry_mtime_nsec = _bind("archive_entry_mtime_nsec", [c_void_p], c_long, _held)
entry_rdevmajor = _bind("archive_entry_rdevmajor", [c_void_p], ctypes.c_uint64, _held)
entry_rdevminor = _bind("archive_entry_rdevminor", [c_void_p], ctypes.c_uint64, _held)
entry_sparse_count = _bind("archive_entry_sparse_count", [c_void_p], c_int, _held)
_xattr_reset = _bind("archive_entry_xattr_reset", [c_void_p], c_int, _held)
xattr_count = _bind("archive_entry_xattr_count", [c_void_p], c_int, _held)
_xattr_next = _bind(
    "archive_entry_xattr_next",
    [c_void_p, POINTER(c_char_p), POINTER(c_void_p), POINTER(c_size_t)],
    c_int,
    _held,
)


class ArchiveFailure(Exception):
    """libarchive refused the input; the message is libarchive's."""


def entry_xattrs(entry: int) -> list[tuple[bytes, bytes]]:
    if not _xattr_reset(entry):
        return []
    name = c_char_p()
    value = c_void_p()
    size = c_size_t()
    found = []
    while _xattr_next(entry, ctypes.byref(name), ctypes.byref(value), ctypes.byref(size)) == 0:
        if name.value is None:
            break
        data = ctypes.string_at(value.value, size.value) if value.value else b""
        found.append((name.value, data))
    return found


class TarReader:
    """Reads tar entries (pax, GNU, ustar, v7) from a ``fill`` function.

    ``fill()`` returns ``(address, length)`` of the next input block (length 0
    at the end); the block must stay valid until the next call. An exception
    raised by ``fill`` is kept and re-raised instead of libarchive's error.
    """

    def __init__(self, fill: Callable[[], tuple[int, int]]) -> None:
        self._fill = fill
        self.pending: BaseException | None = None
        self._callback = READ_CALLBACK(self._read)  # referenced for the archive's lifetime
        self._archive = _read_new()
        if not self._archive:
            raise MemoryError("archive_read_new failed")
        _support_tar(self._archive)
        _support_empty(self._archive)
        if _read_open(self._archive, None, None, self._callback, None) != ARCHIVE_OK:
            try:
                self._raise()
            finally:
                self.close()

    def _read(self, _archive, _context, pointer) -> int:
        try:
            address, length = self._fill()
        except BaseException as error:  # noqa: BLE001 - must not unwind through C
            self.pending = error
            return -1
        pointer[0] = address
        return length

    def _raise(self) -> None:
        if self.pending is not None:
            error, self.pending = self.pending, None
            raise error
        message = _error_string(self._archive)
        text = message.decode("utf-8", "replace") if message else "unknown libarchive error"
        raise ArchiveFailure(text)

    def entries(self) -> Iterator[int]:
        """Yields entry handles, valid until the next iteration."""
        entry = c_void_p()
        pointer = ctypes.byref(entry)
        while True:
            status = _next_header(self._archive, pointer)
            if status == ARCHIVE_EOF:
                return
            if status not in (ARCHIVE_OK, ARCHIVE_WARN):
                self._raise()
            yield entry.value  # type: ignore[misc]

    def position(self) -> int:
        """Bytes of the tar the format reader has consumed: right after a header is
        read, where the entry's data starts."""
        return _filter_bytes(self._archive, 0)

    def data_into_fd(self, fd: int) -> None:
        if _data_into_fd(self._archive, fd) not in (ARCHIVE_OK, ARCHIVE_WARN):
            if self.pending is None and _error_string(self._archive) == b"Write error":
                code = _errno(self._archive)  # the disk failed (ENOSPC...), not the archive
                raise OSError(code, os.strerror(code))
            self._raise()

    def close(self) -> None:
        if self._archive:
            _read_free(self._archive)
            self._archive = None
