"""The resumable SHA-256: its state, saved in one process, continues in another."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from dockyard.registry import hashstate

pytestmark = pytest.mark.skipif(not hashstate.available(), reason="no libcrypto here")


def test_a_state_saved_at_any_offset_continues_to_hashlibs_digest():
    data = os.urandom(300_001)
    for cut in (0, 1, 63, 64, 65, 4096, 299_999):
        first = hashstate.new_hasher("sha256")
        first.update(data[:cut])
        second = hashstate.ResumableSha256.restore(first.state())
        second.update(memoryview(data)[cut:])
        assert second.hexdigest() == hashlib.sha256(data).hexdigest()
        assert first.hexdigest() == hashlib.sha256(data[:cut]).hexdigest()  # untouched


def test_a_state_continues_in_another_process(tmp_path):
    data = os.urandom(100_000)
    hasher = hashstate.new_hasher("sha256")
    hasher.update(data[:77_777])
    (tmp_path / "state").write_bytes(hasher.state())
    (tmp_path / "rest").write_bytes(data[77_777:])
    script = (
        "import sys; from dockyard.registry.hashstate import ResumableSha256 as R; "
        "h = R.restore(open(sys.argv[1], 'rb').read()); h.update(open(sys.argv[2], 'rb').read()); "
        "print(h.hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "state"), str(tmp_path / "rest")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == hashlib.sha256(data).hexdigest()


def test_foreign_or_damaged_states_are_refused_and_other_algorithms_use_hashlib():
    good = hashstate.new_hasher("sha256").state()
    for bad in (None, b"", b"garbage", good[:-1], good + b"x", b"other-v9:" + good[23:]):
        assert hashstate.ResumableSha256.restore(bad) is None
    sha512 = hashstate.new_hasher("sha512")
    assert hashstate.export_state(sha512) is None
    sha512.update(b"abc")
    assert sha512.hexdigest() == hashlib.sha512(b"abc").hexdigest()
