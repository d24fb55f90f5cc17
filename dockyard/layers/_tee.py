"""The tee of apply_layer: every raw byte read from the layer stream is copied
to a sink (the store's blob writer) and hashed, so the sink need not hash.

An uncompressed layer's raw bytes are the tar itself, whose hash (the diff ID)
apply_layer computes anyway: the tee then hashes nothing and the blob digest
is the diff ID.
"""

from __future__ import annotations

import hashlib
from typing import BinaryIO

from dockyard.layers.compression import detect_compression

_MAGIC_LENGTH = 6  # what detect_compression needs, as open_decompressed reads it


class Tee:
    def __init__(self, stream: BinaryIO, sink: BinaryIO) -> None:
        self._stream = stream
        self._sink = sink
        self._head = b""  # the first bytes, until they tell the compression
        self._decided = False
        self._hash: hashlib._Hash | None = None  # None: raw bytes are the tar

    def _seen(self, data: bytes | memoryview) -> None:
        if self._decided:
            if self._hash is not None:
                self._hash.update(data)
            return
        self._head += bytes(data)
        if len(self._head) >= _MAGIC_LENGTH:
            self._decide()

    def _decide(self) -> None:
        self._decided = True
        if detect_compression(self._head[:_MAGIC_LENGTH]) != "none":
            self._hash = hashlib.sha256(self._head)
        self._head = b""

    def raw_hexdigest(self, tar_hexdigest: str) -> str:
        """The sha256 of every byte read, given the tar's (call once all is read)."""
        if not self._decided:
            self._decide()
        return tar_hexdigest if self._hash is None else self._hash.hexdigest()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if data:
            self._sink.write(data)
            self._seen(data)
        return data

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        readinto = getattr(self._stream, "readinto", None)
        if readinto is None:
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        n = readinto(buffer) or 0
        if n:
            view = memoryview(buffer)[:n]
            self._sink.write(view)
            self._seen(view)
        return n
