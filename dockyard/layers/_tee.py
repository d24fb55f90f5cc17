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
from dockyard.streams import ObservedReader

_MAGIC_LENGTH = 6  # what detect_compression needs, as open_decompressed reads it


class Tee(ObservedReader):
    def __init__(self, stream: BinaryIO, sink: BinaryIO) -> None:
        super().__init__(stream, sink.write, self._seen)
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
