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


class _Hasher:
    """sha256 on a second thread (hashlib releases the GIL for large buffers): each
    buffer handed to ``feed`` is hashed while the caller writes it out, then given back
    to ``free`` for the next fill. Nothing is copied for the hash."""

    def __init__(self, buffers: int) -> None:
        import queue
        import threading

        self._hash = hashlib.sha256()
        self._todo: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
        self.free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(buffers):
            self.free.put(bytearray(_CHUNK))
        self._thread = threading.Thread(target=self._run, name="dockyard-tar-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        update, free = self._hash.update, self.free.put
        while (view := self._todo.get()) is not None:
            update(view)
            free(view.obj)  # type: ignore[arg-type]

    def feed(self, view: memoryview) -> None:
        self._todo.put(view)

    def hexdigest(self) -> str:
        self.stop()
        return self._hash.hexdigest()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._todo.put(None)
            self._thread.join()


_CHUNK = 256 << 10  # a buffer of the stream: stays in the cache while hashed and written
_BUFFERS = 4


class RegeneratedTar(io.RawIOBase):
    """The layer's tar, read from its tree and record; checked against ``diff_id``
    before the last bytes are handed out.

    ``chunks()`` hands out the stream in buffers of its own, each valid until the next
    one is asked for (what a writer wants: no copy); ``readinto`` copies from them.
    Each buffer is hashed on a second thread while the caller uses it."""

    def __init__(self, layer_dir: Path, diff_id: Digest) -> None:
        self._dir = layer_dir
        self._diff_id = diff_id
        self._record = _Record(layer_dir / RECORD_NAME)
        self.size = self._record.tar_size
        self._dir_fd = os.open(layer_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self._hash = _Hasher(_BUFFERS)
        self._stream = self._generate()
        self._pending = memoryview(b"")

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

    def _generate(self) -> Iterator[memoryview]:
        """Fill buffers with the record's bytes and the files' in stream order; a full
        buffer goes to the hash and out when the next byte needs room, so the last one
        is still here when the stream ends: it goes out only once the digest matched."""
        record, meta, hasher = self._record, self._record.meta, self._hash
        before, sizes, names, starts = record.before, record.sizes, record.names, record.starts
        readv, close, take = os.readv, os.close, hasher.free.get
        buffer = memoryview(take())
        filled = meta_at = 0
        for index in range(record.count + 1):
            end = before[index] if index < record.count else len(meta)
            while meta_at < end:
                if filled == _CHUNK:
                    hasher.feed(buffer)
                    yield buffer
                    buffer, filled = memoryview(take()), 0
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
                        hasher.feed(buffer)
                        yield buffer
                        buffer, filled = memoryview(take()), 0
                    n = readv(fd, [buffer[filled : filled + min(left, _CHUNK - filled)]])
                    if not n:
                        path = os.fsdecode(names[starts[index] : starts[index + 1]])
                        raise _damaged(self._dir, f"{path} is shorter than its tar entry")
                    filled += n
                    left -= n
            finally:
                close(fd)
        last = buffer[:filled]
        hasher.feed(last)
        if hasher.hexdigest() != self._diff_id.hex:
            raise _damaged(self._dir, "its files no longer give the tar of its diff ID")
        if filled:
            yield last

    def _open(self, path: bytes) -> int:
        try:
            return openat2_beneath(self._dir_fd, path, os.O_RDONLY | os.O_CLOEXEC)
        except NotImplementedError:
            return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._dir_fd)
        except OSError as error:
            raise _damaged(
                self._dir, f"cannot read {os.fsdecode(path)}: {error.strerror}"
            ) from None

    def close(self) -> None:
        self._stream.close()
        self._hash.stop()
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1
        super().close()


def open_regenerated(layer_dir: Path, diff_id: Digest) -> RegeneratedTar:
    """The tar of a layer kept as tree plus record (``layer_dir`` holds both)."""
    return RegeneratedTar(layer_dir, diff_id)


def has_record(layer_dir: Path) -> bool:
    return (layer_dir / RECORD_NAME).is_file()
