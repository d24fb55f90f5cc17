"""Read-ahead for layer extraction: a thread reads the (decompressed) layer,
hashes it and hands blocks to libarchive, so that reading, decompressing,
teeing and hashing (which release the GIL) run on one core while the
extraction runs on another."""

from __future__ import annotations

import ctypes
import hashlib
import queue
import threading
from collections.abc import Callable

from dockyard.layers.compression import CHUNK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.layers.tarsplit import SplitRecorder

_BUFFERS = 4  # blocks in flight: one in libarchive's hands, the rest read ahead
_BLOCK = CHUNK


class ReadAhead:
    """``fill()`` returns ``(address, length)`` of the next block of the stream
    (length 0 at its end), as TarReader wants; ``hash`` and ``count`` cover
    every byte read, and are final once ``fill`` has returned the end.

    ``readinto`` is called in the reading thread only, then ``at_end`` once the
    stream is exhausted. An exception raised there is raised again by ``fill``,
    in order: the blocks read before it are handed out first.

    ``blocks`` (a tar-split recorder) is told, in the extracting thread, of each block
    handed out (``hold(offset in the stream, bytes)``) and given back (``release()``).
    """

    def __init__(
        self,
        readinto: Callable[[memoryview], int | None],
        at_end: Callable[[], object],
        blocks: SplitRecorder | None = None,
    ) -> None:
        self._readinto = readinto
        self._at_end = at_end
        self._blocks = blocks
        self.hash = hashlib.sha256()
        self.count = 0
        self._buffers = [bytearray(_BLOCK) for _ in range(_BUFFERS)]
        self._views = [memoryview(buffer) for buffer in self._buffers]
        self._addresses = [
            ctypes.addressof((ctypes.c_char * _BLOCK).from_buffer(buffer))
            for buffer in self._buffers
        ]
        self._free: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._full: queue.SimpleQueue[tuple[int, int, int] | BaseException | None] = (
            queue.SimpleQueue()
        )
        for index in range(_BUFFERS):
            self._free.put(index)
        self._held: int | None = None  # the block libarchive is reading
        self._ended = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="dockyard-layer-read", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                index = self._free.get()
                if index is None or self._stopping:
                    return  # closed early
                view = self._views[index]
                n = self._readinto(view) or 0
                if not n:
                    self._at_end()
                    self._full.put(None)
                    return
                self.hash.update(view[:n])
                start = self.count
                self.count += n
                self._full.put((index, n, start))
        except BaseException as error:  # noqa: BLE001 - handed to the extracting thread
            self._full.put(error)

    def fill(self) -> tuple[int, int]:
        """The next block; libarchive is done with the previous one when it asks."""
        if self._held is not None:
            if self._blocks is not None:
                self._blocks.release()
            self._free.put(self._held)
            self._held = None
        if self._ended:
            return self._addresses[0], 0
        item = self._full.get()
        if item is None:
            self._ended = True
            return self._addresses[0], 0
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        index, n, start = item
        self._held = index
        if self._blocks is not None:
            self._blocks.hold(start, self._views[index][:n])
        return self._addresses[index], n

    def drain(self) -> None:
        """Read (and hash) to the end of the stream."""
        while self.fill()[1]:
            pass

    def close(self) -> None:
        """Stop reading ahead and wait for the thread: once this returns, nothing
        reads the stream or writes the tee any more."""
        if self._thread.is_alive():
            self._stopping = True
            self._free.put(None)
            # A read in progress is let finish; its block is then dropped.
            self._thread.join()
