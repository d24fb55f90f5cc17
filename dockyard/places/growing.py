"""A file that one task appends to while another reads it: the reader blocks until more
bytes are written, the writer finishes, or the writer fails (the reader then raises
its error). Layer extraction follows a download this way, without waiting for the end.

The writer also hands over the chunks it has just written (``advance(written,
chunks)``): a reader that keeps up copies them from memory instead of reading the
file back (one kernel copy of every byte less); one that falls behind by more than
``KEEP`` bytes, or starts again, reads the file.
"""

from __future__ import annotations

import io
import os
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path

KEEP = 32 << 20  # bytes of written chunks kept for the reader


class Cancelled(Exception):
    """The transfer a reader was following was abandoned."""


class GrowingState:
    def __init__(self, written: int = 0) -> None:
        self._condition = threading.Condition()
        self.written = written
        self.done = False
        self.error: BaseException | None = None
        self._recent: deque[tuple[int, bytes]] = deque()  # (offset, chunk), in order
        self._recent_bytes = 0

    def advance(self, written: int, chunks: Sequence[bytes] = ()) -> None:
        """The file is complete up to ``written``; ``chunks``, if given, are its bytes
        from the previous ``written`` on."""
        with self._condition:
            if chunks:
                recent = self._recent
                offset = self.written
                for chunk in chunks:
                    recent.append((offset, chunk))
                    offset += len(chunk)
                    self._recent_bytes += len(chunk)
                assert offset == written, "chunks and positions disagree"
                while self._recent_bytes > KEEP:
                    self._recent_bytes -= len(recent.popleft()[1])
            self.written = written
            self._condition.notify_all()

    def kept_chunks(self, position: int, length: int) -> list[memoryview]:
        """Views of kept chunks covering ``length`` bytes from ``position`` on, as far
        as they are kept (none: read the file). Chunks before ``position`` are let go."""
        views: list[memoryview] = []
        with self._condition:
            recent = self._recent
            while recent and recent[0][0] + len(recent[0][1]) <= position:
                self._recent_bytes -= len(recent.popleft()[1])
            end = position + length
            for offset, chunk in recent:
                if offset > position or position >= end:
                    break
                start = position - offset
                piece = memoryview(chunk)[start : start + end - position]
                views.append(piece)
                position += len(piece)
        return views

    def finish(self) -> None:
        with self._condition:
            self.done = True
            self._condition.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._condition:
            if self.error is None:
                self.error = error
            self._condition.notify_all()

    def wait_for(self, position: int) -> int:
        """Bytes readable from ``position`` on (0 at the end); raises the writer's error."""
        with self._condition:
            while True:
                if self.error is not None:
                    raise self.error
                if self.written > position:
                    return self.written - position
                if self.done:
                    return 0
                self._condition.wait()


class GrowingReader(io.RawIOBase):
    """Reads the file open as ``fd`` (not closed here) with pread, from offset 0."""

    def __init__(self, fd: int, state: GrowingState, blob_file: Path | None = None) -> None:
        self._fd = fd
        self._state = state
        self._position = 0
        self.blob_file = blob_file  # the file, whole and checked once the reader ends

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        available = self._state.wait_for(self._position)
        if available == 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), available)]
        n = 0
        for piece in self._state.kept_chunks(self._position, len(view)):
            view[n : n + len(piece)] = piece
            n += len(piece)
        if not n:
            n = os.preadv(self._fd, [view], self._position)
        self._position += n
        return n
