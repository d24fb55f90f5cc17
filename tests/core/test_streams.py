"""dockyard.streams: the stream wrappers the places and layers share."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dockyard.streams import PrefixedReader


class _ReadOnly:
    """A stream with read() and nothing else (a pipe-like object)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)


def _drain_into(reader: PrefixedReader, size: int) -> bytes:
    out, buffer = bytearray(), bytearray(size)
    while n := reader.readinto(buffer):
        out += buffer[:n]
    return bytes(out)


@pytest.mark.parametrize("size", [1, 7, 512, 1 << 16])
def test_prefixed_readinto_gives_head_then_stream(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * 300
    path = tmp_path / "data"
    path.write_bytes(data)
    with open(path, "rb") as stream:
        head = stream.read(100)
        assert _drain_into(PrefixedReader(head, stream), size) == data
    plain = _ReadOnly(data)
    head = plain.read(100)
    assert _drain_into(PrefixedReader(head, plain), size) == data
    mixed = PrefixedReader(data[:10], io.BytesIO(data[10:]))
    assert mixed.read(4) + _drain_into(mixed, size) == data
