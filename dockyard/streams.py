"""The one stream wrapper: a reader or writer that shows every chunk passing through
it to observers (a hash, a byte count, a progress report, a copy to a second sink).

Hashing (digest.HashingReader/HashingWriter), the layer tee of apply_layer, the
store's progress while a layer is written and push's upload counters are all this.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Observer = Callable[[bytes | memoryview], object]


class ObservedReader:
    """Reads from ``stream``; each non-empty chunk read is given to every observer."""

    def __init__(self, stream: Any, *observers: Observer) -> None:
        self._stream = stream
        self._observers = observers

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if data:
            for observe in self._observers:
                observe(data)
        return data

    def readinto(self, buffer: Any) -> int:
        readinto = getattr(self._stream, "readinto", None)
        if readinto is None:
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        n = readinto(buffer) or 0
        if n:
            view = memoryview(buffer)[:n]
            for observe in self._observers:
                observe(view)
        return n


class ObservedWriter:
    """Writes to ``target``; each chunk is given to every observer first."""

    def __init__(self, target: Any, *observers: Observer) -> None:
        self._target = target
        self._observers = observers

    def write(self, data: bytes | bytearray | memoryview) -> int:
        for observe in self._observers:
            observe(data)
        return self._target.write(data)

    def flush(self) -> None:
        flush = getattr(self._target, "flush", None)
        if flush is not None:
            flush()


class ByteCounter:
    """An observer that counts bytes and reports the running total to ``report``,
    at most once per ``step`` bytes (every chunk when ``step`` is 0)."""

    def __init__(self, report: Callable[[int], object] | None = None, step: int = 0) -> None:
        self.count = 0
        self._report = report
        self._step = step
        self._reported = 0

    def __call__(self, data: bytes | memoryview) -> None:
        self.count += len(data)
        if self._report is not None and self.count - self._reported >= self._step:
            self._reported = self.count
            self._report(self.count)

    def flush(self) -> None:
        """Report the total if the last chunks were below the step."""
        if self._report is not None and self.count != self._reported:
            self._reported = self.count
            self._report(self.count)


class PrefixedReader:
    """Reads ``head`` (the first bytes, already taken from ``stream``), then the rest."""

    def __init__(self, head: bytes, stream: Any) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._stream.read(size)
        if size is None or size < 0:
            data, self._head = self._head + self._stream.read(), b""
        else:
            data, self._head = self._head[:size], self._head[size:]
        return data

    def readinto(self, buffer: Any) -> int:
        """Into ``buffer``: the stream's own readinto once the head is out (a layer read
        from a file lands in the reader's buffer without a bytes object between)."""
        readinto = getattr(self._stream, "readinto", None)
        if self._head or readinto is None:
            data = self.read(len(memoryview(buffer).cast("B")))
            memoryview(buffer).cast("B")[: len(data)] = data
            return len(data)
        return readinto(buffer) or 0
