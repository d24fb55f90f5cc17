"""A file that one task appends to while another reads it: the reader blocks until more
bytes are written, the writer finishes, or the writer fails (the reader then raises
its error). Layer extraction follows a download this way, without waiting for the end.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path


class Cancelled(Exception):
    """The transfer a reader was following was abandoned."""


class GrowingState:
    def __init__(self, written: int = 0) -> None:
        self._condition = threading.Condition()
        self.written = written
        self.done = False
        self.error: BaseException | None = None

    def advance(self, written: int) -> None:
        with self._condition:
            self.written = written
            self._condition.notify_all()

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
        n = os.preadv(self._fd, [view], self._position)
        self._position += n
        return n
