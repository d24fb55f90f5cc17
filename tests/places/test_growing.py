"""A reader following a growing file: from the kept chunks while it keeps up, from the
file when it falls behind, starts again, or meets bytes handed over without chunks."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from dockyard.places import growing
from dockyard.places.growing import Cancelled, GrowingReader, GrowingState


def _append(fd: int, state: GrowingState, chunks: list[bytes], with_chunks: bool) -> None:
    offset = state.written
    for chunk in chunks:
        os.pwrite(fd, chunk, offset)
        offset += len(chunk)
    state.advance(offset, chunks if with_chunks else ())


def _read_all(reader: GrowingReader, size: int = 7000) -> bytes:
    out = bytearray()
    buffer = bytearray(size)
    while n := reader.readinto(buffer):
        out += buffer[:n]
    return bytes(out)


def test_reader_gets_every_byte_from_chunks_gaps_and_the_file(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "blob", os.O_RDWR | os.O_CREAT, 0o600)
    state = GrowingState()
    pieces = [os.urandom(n) for n in (1, 4096, 10_000, 3, 65_536, 777)]
    _append(fd, state, pieces[:2], with_chunks=False)  # a resumed partial file
    _append(fd, state, pieces[2:4], with_chunks=True)
    _append(fd, state, pieces[4:5], with_chunks=False)  # a gap in what is kept
    _append(fd, state, pieces[5:], with_chunks=True)
    state.finish()
    assert _read_all(GrowingReader(fd, state)) == b"".join(pieces)
    # a second reader from the start (the copy tried again) reads the file
    assert _read_all(GrowingReader(fd, state), 100_000) == b"".join(pieces)
    os.close(fd)


def test_kept_chunks_are_copied_instead_of_read_back(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "blob", os.O_RDWR | os.O_CREAT, 0o600)
    state = GrowingState()
    os.pwrite(fd, b"\0" * 8, 0)  # the file says zeros; the chunks handed over say otherwise
    state.advance(8, [b"abc", b"defgh"])
    state.finish()
    assert _read_all(GrowingReader(fd, state)) == b"abcdefgh"
    os.close(fd)


def test_a_reader_far_behind_reads_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(growing, "KEEP", 10_000)
    fd = os.open(tmp_path / "blob", os.O_RDWR | os.O_CREAT, 0o600)
    state = GrowingState()
    chunks = [os.urandom(3000) for _ in range(20)]
    reader = GrowingReader(fd, state)
    first = bytearray(1000)
    _append(fd, state, chunks[:2], with_chunks=True)
    assert reader.readinto(first) == 1000
    _append(fd, state, chunks[2:], with_chunks=True)  # only the last ~10,000 bytes kept
    state.finish()
    assert bytes(first) + _read_all(reader) == b"".join(chunks)
    os.close(fd)


def test_reader_waits_for_the_writer_and_sees_its_failure(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "blob", os.O_RDWR | os.O_CREAT, 0o600)
    state = GrowingState()
    data = [os.urandom(50_000) for _ in range(8)]

    def write() -> None:
        for chunk in data:
            _append(fd, state, [chunk], with_chunks=True)
        state.fail(Cancelled("copy cancelled"))

    writer = threading.Thread(target=write)
    reader = GrowingReader(fd, state)
    writer.start()
    got = bytearray()
    buffer = bytearray(65_536)
    with pytest.raises(Cancelled):
        while n := reader.readinto(buffer):
            got += buffer[:n]
    writer.join()
    assert b"".join(data).startswith(bytes(got))
    os.close(fd)
