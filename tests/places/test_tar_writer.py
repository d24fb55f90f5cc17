"""tar_writer.copy_exact with a layer regenerated from its tree and tar-split record:
its own buffers go out as they are, and a size that does not match is an error before
a byte too many is written."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.digest import Digest
from dockyard.errors import DockyardError
from dockyard.layers.apply import apply_layer
from dockyard.layers.tarsplit import RECORD_NAME, open_regenerated
from dockyard.places.tar_writer import copy_exact


def layer_tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for number, size in enumerate((700_000, 1, 0, 300_000)):
            info = tarfile.TarInfo(f"file{number}")
            info.size = size
            tar.addfile(info, io.BytesIO(os.urandom(size)))
    return out.getvalue()


@pytest.fixture
def layer(tmp_path: Path) -> tuple[Path, Digest, bytes]:
    tar = layer_tar()
    (tmp_path / "diff").mkdir()
    apply_layer(io.BytesIO(tar), tmp_path / "diff", tar_split=tmp_path / RECORD_NAME)
    return tmp_path, Digest("sha256", hashlib.sha256(tar).hexdigest()), tar


def test_a_regenerated_layer_is_copied_from_its_own_buffers(layer) -> None:  # type: ignore[no-untyped-def]
    directory, diff_id, tar = layer
    out = io.BytesIO()
    with open_regenerated(directory, diff_id) as stream:
        assert stream.read(10) == tar[:10]  # a part already read is not lost
        copy_exact(stream, out, len(tar) - 10, "layer")
    assert out.getvalue() == tar[10:]


def test_a_size_that_does_not_match_the_layer_is_an_error(layer) -> None:  # type: ignore[no-untyped-def]
    directory, diff_id, tar = layer
    out = io.BytesIO()
    with pytest.raises(DockyardError, match="more than the expected"):
        with open_regenerated(directory, diff_id) as stream:
            copy_exact(stream, out, len(tar) - 1, "layer")
    assert len(out.getvalue()) < len(tar) - 1
    out = io.BytesIO()
    with pytest.raises(DockyardError, match="read only"):
        with open_regenerated(directory, diff_id) as stream:
            copy_exact(stream, out, len(tar) + 1, "layer")
