"""Tar-split: a layer's tar kept as the extracted tree plus a small record, instead of a
second copy of its bytes (Docker's overlay2 keeps tar-split the same way).

While ``apply_layer`` reads an uncompressed layer, :class:`SplitRecorder` keeps every
byte of the stream that is *not* the data of a regular file it writes into the tree
(headers, pax and GNU extension records, padding, the end-of-archive blocks and
whatever follows them, the data of entries it does not write as files) and, for each
file it writes, the file's path and size. :func:`open_regenerated` replays that:
record bytes and file contents in order give the tar again, byte for byte. Nothing
is parsed twice: libarchive says where each file's data starts (its position in the
stream once the header is read); everything else is copied as it passes.

A file whose bytes a later entry of the same layer replaces (a duplicate name, a
whiteout, a directory replaced by a file) is moved into ``rescued/`` beside the tree
instead of being deleted, and its record points there. The regenerated stream is
hashed as it is read and checked against the diff ID before its last bytes are
handed out: a tree changed on disk gives one clear error, never other bytes.

Record file (little-endian): ``MAGIC``; the counts ``<QQII`` (meta bytes, tar size,
files, path bytes); per file the meta bytes before its data (``Q``), then per file its
size (``Q``), then per file its path length (``H``); the paths (relative to the
record's directory) one after the other; the meta bytes.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import struct
import sys
from array import array
from collections.abc import Iterator
from pathlib import Path

from dockyard.digest import Digest
from dockyard.errors import DockyardError
from dockyard.layers._tree import openat2_beneath

MAGIC = b"dockyard tar-split 2\n"
RECORD_NAME = "tar-split"
RESCUED_NAME = "rescued"
_HEAD = struct.Struct("<QQII")
_BLOCK = 512


def _little_endian(numbers: array) -> bytes:
    if sys.byteorder != "little":
        numbers = array(numbers.typecode, numbers)
        numbers.byteswap()
    return numbers.tobytes()


class SplitRecorder:
    """Collects the record of one layer while it is applied into ``tree``.

    ``hold(start, view)`` / ``release()`` are called by the read-ahead for each block
    libarchive gets and gives back; ``claim`` by the applier before it writes a file's
    data; ``covers`` and ``rescue`` before it removes something; ``write`` at the end.
    """

    def __init__(self, tree: Path, record: Path) -> None:
        self.record = record
        self._prefix = os.fsencode(os.path.relpath(tree, record.parent)) + b"/"
        self.meta = bytearray()
        self.cursor = 0  # stream offset up to which bytes are kept or claimed
        self._start = 0  # the block libarchive holds: its offset, end and bytes
        self._end = -1
        self._view: memoryview | None = None
        # per claimed file: meta bytes before its data, its size, its path in the tree
        self._before = array("Q")
        self._sizes = array("Q")
        self._paths: list[bytes] = []
        # claimed files and their directories, indexed when something is removed
        self._indexed = 0
        self._files: set[bytes] = set()
        self._dirs: set[bytes] = set()
        # victim path -> [(rescue number, claims made before the move)]
        self._moves: dict[bytes, list[tuple[int, int]]] = {}
        self._rescued = 0
        self._rescue_fd: int | None = None

    # -- the stream ---------------------------------------------------------------

    def hold(self, start: int, view: memoryview) -> None:
        self._start = start
        self._end = start + len(view)
        self._view = view

    def release(self) -> None:
        view = self._view
        if view is None:
            return
        if self.cursor < self._end:
            self.meta += view[max(self.cursor - self._start, 0) :]
            self.cursor = self._end
        self._view = None
        self._end = -1

    def claim(self, offset: int, size: int, path: bytes) -> bool:
        """The data of the file ``path`` (in the tree) is the stream's bytes [offset,
        offset+size); False (the bytes are then kept as they pass) when that cannot
        be told: the block with the header's end is not held any more."""
        start = self._start
        if offset < self.cursor or offset < start or offset > self._end or offset % _BLOCK:
            return False
        if self.cursor < offset:
            self.meta += self._view[self.cursor - start : offset - start]  # type: ignore[index]
        self.cursor = offset + size
        self._before.append(len(self.meta))
        self._sizes.append(size)
        self._paths.append(path)
        return True

    # -- files a later entry replaces ------------------------------------------------

    def covers(self, victim: list[bytes]) -> bool:
        """Whether removing ``victim`` would remove a claimed file's bytes."""
        for path in self._paths[self._indexed :]:
            self._files.add(path)
            end = path.rfind(b"/")
            while end > 0 and path[:end] not in self._dirs:  # (its parents are in then)
                self._dirs.add(path[:end])
                end = path.rfind(b"/", 0, end)
        self._indexed = len(self._paths)
        key = b"/".join(victim)
        return key in self._files or key in self._dirs

    def rescue(self, parent: int, name: bytes, victim: list[bytes]) -> None:
        """Move ``victim`` (``name`` in the directory ``parent``) out of the tree."""
        if self._rescue_fd is None:
            rescued = self.record.parent / RESCUED_NAME
            rescued.mkdir(exist_ok=True)
            self._rescue_fd = os.open(rescued, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        number = self._rescued
        self._rescued += 1
        os.rename(name, str(number), src_dir_fd=parent, dst_dir_fd=self._rescue_fd)
        self._moves.setdefault(b"/".join(victim), []).append((number, len(self._paths)))

    def _path(self, index: int, path: bytes) -> bytes:
        """Where claim ``index`` is once the layer is applied, from the record's
        directory: the first move of it, or of a directory above it, made after it was
        written took it to ``rescued/``."""
        best: tuple[int, int] | None = None  # (rescue number, length of the victim path)
        end = len(path)
        while end > 0:
            for number, count in self._moves.get(path[:end], ()):
                if count > index:
                    if best is None or number < best[0]:
                        best = (number, end)
                    break
            end = path.rfind(b"/", 0, end)
        if best is None:
            return self._prefix + path
        number, end = best
        return b"%s/%d%s" % (RESCUED_NAME.encode(), number, path[end:])

    # -- the end -------------------------------------------------------------------

    def close(self) -> None:
        if self._rescue_fd is not None:
            os.close(self._rescue_fd)
            self._rescue_fd = None

    def write(self, tar_size: int) -> None:
        """Write the record (durable) once the whole stream went through."""
        self.release()
        if self.cursor != tar_size:
            raise DockyardError(
                f"internal error: tar-split covers {self.cursor} of {tar_size} bytes"
            )
        if self._moves:
            paths = [self._path(index, path) for index, path in enumerate(self._paths)]
        else:
            prefix = self._prefix
            paths = [prefix + path for path in self._paths]
        lengths = array("H")
        try:
            lengths.extend(map(len, paths))
        except OverflowError:
            raise DockyardError("internal error: a tar-split path longer than 64 KiB") from None
        names = b"".join(paths)
        head = _HEAD.pack(len(self.meta), tar_size, len(paths), len(names))
        record = b"".join(
            (
                MAGIC,
                head,
                _little_endian(self._before),
                _little_endian(self._sizes),
                _little_endian(lengths),
                names,
                self.meta,
            )
        )
        fd = os.open(self.record, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, record)
            os.fdatasync(fd)
        finally:
            os.close(fd)


class DamagedLayer(DockyardError):
    """A layer's tree or record no longer gives the tar its diff ID names."""


def _damaged(where: Path, what: str) -> DamagedLayer:
    return DamagedLayer(f"layer {where}: {what}; run `dockyard check`")


class _Record:
    def __init__(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise _damaged(path.parent, "its tar-split record is missing") from None
        damaged = _damaged(path.parent, "its tar-split record is damaged")
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _HEAD.size:
            raise damaged
        offset = len(MAGIC)
        meta_size, self.tar_size, count, names_size = _HEAD.unpack_from(data, offset)
        offset += _HEAD.size
        arrays = []
        for typecode in "QQH":
            numbers = array(typecode)
            end = offset + count * numbers.itemsize
            try:
                numbers.frombytes(data[offset:end])
            except ValueError:  # not a whole number of items: cut short
                raise damaged from None
            if sys.byteorder != "little":
                numbers.byteswap()
            arrays.append(numbers)
            offset = end
        before, sizes, lengths = arrays
        names = data[offset : offset + names_size]
        offset += names_size
        self.meta = memoryview(data)[offset:]
        if (
            len(before) != count
            or len(sizes) != count
            or len(lengths) != count
            or len(names) != names_size
            or sum(lengths) != names_size
            or len(self.meta) != meta_size
            or meta_size + sum(sizes) != self.tar_size
            or any(a > b for a, b in zip(before, before[1:], strict=False))
            or (count and before[-1] > meta_size)
        ):
            raise damaged
        # per file (no object each: nothing for the garbage collector to walk)
        self.count = count
        self.before, self.sizes, self.names = before, sizes, names
        self.starts = array("Q", itertools.accumulate(lengths, initial=0))

    def path(self, index: int) -> bytes:
        return self.names[self.starts[index] : self.starts[index + 1]]


_CHUNK = 256 << 10  # a buffer of the stream: stays in the cache while hashed and written
_BUFFERS = 4


class _Stopped(Exception):
    """The reader was told to stop (the stream was closed before its end)."""


class RegeneratedTar(io.RawIOBase):
    """The layer's tar, read from its tree and record; checked against ``diff_id``
    before the last bytes are handed out.

    Three stages share a ring of buffers: a reader thread fills them with the stream
    in order, a hash thread hashes each (hashlib releases the GIL) while the caller
    writes it out, and a buffer is filled again once both are done with it. Nothing
    is copied in user space but the files' bytes into the buffers. ``chunks()`` hands
    out the buffers themselves, each valid until the next is asked for (what a writer
    wants); ``readinto`` copies from them."""

    def __init__(self, layer_dir: Path, diff_id: Digest) -> None:
        import queue
        import threading

        self._dir = layer_dir
        self._diff_id = diff_id
        self._record = _Record(layer_dir / RECORD_NAME)
        self.size = self._record.tar_size
        self._dir_fd = os.open(layer_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self._ring = [bytearray(_CHUNK) for _ in range(_BUFFERS)]
        self._hashed = threading.Semaphore(_BUFFERS)  # buffers the hash is done with
        self._written = threading.Semaphore(_BUFFERS)  # and the caller
        self._to_hash: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
        self._ready: queue.SimpleQueue[memoryview | BaseException | None] = queue.SimpleQueue()
        self._hash = hashlib.sha256()
        self._stopping = False
        self._threads = [
            threading.Thread(target=target, name=f"dockyard-tar-{name}", daemon=True)
            for target, name in ((self._hash_buffers, "hash"), (self._read, "read"))
        ]
        for thread in self._threads:
            thread.start()
        self._stream = self._buffers()
        self._pending = memoryview(b"")

    # -- the caller's side ---------------------------------------------------------

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if not self._pending:
                chunk = next(self._stream, None)
                if chunk is None:
                    break
                self._pending = chunk
            n = min(len(view) - filled, len(self._pending))
            view[filled : filled + n] = self._pending[:n]
            self._pending = self._pending[n:]
            filled += n
        return filled

    def chunks(self) -> Iterator[memoryview]:
        """The rest of the stream, in buffers that stay valid until the next one."""
        if self._pending:
            yield self._pending
            self._pending = memoryview(b"")
        yield from self._stream

    def _buffers(self) -> Iterator[memoryview]:
        while (item := self._ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
            self._written.release()

    def close(self) -> None:
        if self._threads:
            self._stopping = True
            for _ in range(_BUFFERS):  # wake a reader waiting for a buffer
                self._written.release()
                self._hashed.release()
            for thread in self._threads:
                thread.join()
            self._threads = []
            self._stream.close()
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1
        super().close()

    # -- the threads -----------------------------------------------------------------

    def _hash_buffers(self) -> None:
        update, done = self._hash.update, self._hashed.release
        while (view := self._to_hash.get()) is not None:
            update(view)
            done()

    def _read(self) -> None:
        try:
            last = self._fill()
            self._to_hash.put(last)
            self._to_hash.put(None)
            self._threads[0].join()
            if self._hash.hexdigest() != self._diff_id.hex:
                raise _damaged(self._dir, "its files no longer give the tar of its diff ID")
            if last:
                self._ready.put(last)
            self._ready.put(None)
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            self._to_hash.put(None)
            self._ready.put(error)

    def _next_buffer(self, number: int) -> memoryview:
        self._hashed.acquire()
        self._written.acquire()
        if self._stopping:
            raise _Stopped
        return memoryview(self._ring[number % _BUFFERS])

    def _hand_out(self, view: memoryview) -> None:
        self._to_hash.put(view)
        self._ready.put(view)

    def _fill(self) -> memoryview:
        """Fill the ring with the record's bytes and the files' in stream order; a
        full buffer is handed out when the next byte needs room, so the last one is
        still here when the stream ends (returned: it goes out once the digest
        matched)."""
        record, meta = self._record, self._record.meta
        before, sizes, names, starts = record.before, record.sizes, record.names, record.starts
        readv, close = os.readv, os.close
        number = 0
        buffer = self._next_buffer(number)
        filled = meta_at = 0
        for index in range(record.count + 1):
            end = before[index] if index < record.count else len(meta)
            while meta_at < end:
                if filled == _CHUNK:
                    self._hand_out(buffer)
                    number += 1
                    buffer, filled = self._next_buffer(number), 0
                n = min(end - meta_at, _CHUNK - filled)
                buffer[filled : filled + n] = meta[meta_at : meta_at + n]
                filled += n
                meta_at += n
            if index == record.count or not (left := sizes[index]):
                continue
            fd = self._open(names[starts[index] : starts[index + 1]])
            try:
                while left:
                    if filled == _CHUNK:
                        self._hand_out(buffer)
                        number += 1
                        buffer, filled = self._next_buffer(number), 0
                    n = readv(fd, [buffer[filled : filled + min(left, _CHUNK - filled)]])
                    if not n:
                        path = os.fsdecode(names[starts[index] : starts[index + 1]])
                        raise _damaged(self._dir, f"{path} is shorter than its tar entry")
                    filled += n
                    left -= n
            finally:
                close(fd)
        return buffer[:filled]

    def _open(self, path: bytes) -> int:
        try:
            return openat2_beneath(self._dir_fd, path, os.O_RDONLY | os.O_CLOEXEC)
        except NotImplementedError:
            return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._dir_fd)
        except OSError as error:
            raise _damaged(
                self._dir, f"cannot read {os.fsdecode(path)}: {error.strerror}"
            ) from None


def open_regenerated(layer_dir: Path, diff_id: Digest) -> RegeneratedTar:
    """The tar of a layer kept as tree plus record (``layer_dir`` holds both)."""
    return RegeneratedTar(layer_dir, diff_id)


def has_record(layer_dir: Path) -> bool:
    return (layer_dir / RECORD_NAME).is_file()
