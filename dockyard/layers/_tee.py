"""The tee of apply_layer: every raw byte read from the layer stream is copied
to a sink (the store's blob writer) and hashed, so the sink need not hash.

An uncompressed layer's raw bytes are the tar itself, whose hash (the diff ID)
apply_layer computes anyway: the tee then hashes nothing and the blob digest
is the diff ID. With ``keep_plain=False`` an uncompressed layer is not copied at
all (its tar-split record keeps it instead): the sink gets bytes only once the
first ones tell a compressed stream.
"""

from __future__ import annotations

import hashlib
from typing import BinaryIO

from dockyard.layers.compression import detect_compression
from dockyard.streams import ObservedReader

_MAGIC_LENGTH = 6  # what detect_compression needs, as open_decompressed reads it


class Tee(ObservedReader):
    def __init__(self, stream: BinaryIO, sink: BinaryIO, keep_plain: bool = True) -> None:
        super().__init__(stream, self._seen)
        self._sink = sink
        self._keep_plain = keep_plain
        self._head = b""  # the first bytes, until they tell the compression
        self._decided = False
        self.copying = False  # the sink gets the bytes
        self._hash: hashlib._Hash | None = None  # None: raw bytes are the tar

    def _seen(self, data: bytes | memoryview) -> None:
        if self._decided:
            if self.copying:
                self._sink.write(data)
            if self._hash is not None:
                self._hash.update(data)
            return
        self._head += bytes(data)
        if len(self._head) >= _MAGIC_LENGTH:
            self._decide()

    def _decide(self) -> None:
        self._decided = True
        compressed = detect_compression(self._head[:_MAGIC_LENGTH]) != "none"
        if compressed:
            self._hash = hashlib.sha256(self._head)
        self.copying = compressed or self._keep_plain
        if self.copying and self._head:
            self._sink.write(self._head)
        self._head = b""

    def raw_hexdigest(self, tar_hexdigest: str) -> str:
        """The sha256 of every byte read, given the tar's (call once all is read)."""
        if not self._decided:
            self._decide()
        return tar_hexdigest if self._hash is None else self._hash.hexdigest()
