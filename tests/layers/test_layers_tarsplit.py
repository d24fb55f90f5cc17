"""Tar-split: a layer applied with a record gives its tar back byte for byte, whatever
the tar's format and however its entries replace each other; a changed tree is one
clear error, never other bytes."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from dockyard.digest import Digest
from dockyard.errors import DockyardError
from dockyard.layers.apply import apply_layer
from dockyard.layers.tarsplit import RECORD_NAME, open_regenerated
from tests.layers.support import build_tree, member, raw_header, raw_tar, tar_bytes


def regenerate(layer_dir: Path, tar: bytes) -> bytes:
    """Apply ``tar`` with a record into ``layer_dir/diff`` and read the tar back."""
    (layer_dir / "diff").mkdir(parents=True)
    applied = apply_layer(io.BytesIO(tar), layer_dir / "diff", tar_split=layer_dir / RECORD_NAME)
    assert applied.tar_split
    assert applied.diff_id == Digest("sha256", hashlib.sha256(tar).hexdigest())
    assert applied.tar_size == len(tar)
    with open_regenerated(layer_dir, applied.diff_id) as stream:
        return stream.read()


def gnu_tar(tmp_path: Path, root: Path, *options: str) -> bytes:
    out = tmp_path / "gnu.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(out), *options, "."], check=True)
    return out.read_bytes()


@pytest.mark.parametrize("options", [["--format=gnu"], ["--format=posix"], ["--format=ustar"]])
def test_gnu_tar_of_every_kind_of_entry(tmp_path: Path, options: list[str]) -> None:
    root = tmp_path / "tree"
    build_tree(root)
    if "--format=ustar" in options:  # ustar cannot hold the long names: leave them out
        subprocess.run(["rm", "-rf", str(root / "directory-with-a-long-name")], check=True)
        (root / "long-target-link").unlink()
    tar = gnu_tar(tmp_path, root, *options, "--xattrs")
    assert regenerate(tmp_path / "layer", tar) == tar


@pytest.mark.parametrize(
    "options",
    [
        ["--format=gnu"],
        ["--format=posix", "--sparse-version=0.0"],
        ["--format=posix", "--sparse-version=0.1"],
        ["--format=posix", "--sparse-version=1.0"],
    ],
)
def test_sparse_files_are_kept_in_the_record(tmp_path: Path, options: list[str]) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    with open(root / "sparse", "wb") as sparse:
        sparse.seek(3 << 20)
        sparse.write(b"middle")
        sparse.seek(9 << 20)
        sparse.write(b"end")
    (root / "after").write_bytes(b"after the sparse file")
    tar = gnu_tar(tmp_path, root, "--sparse", *options)
    assert regenerate(tmp_path / "layer", tar) == tar


def test_python_tarfile_formats_and_end_padding(tmp_path: Path) -> None:
    members = [
        (member("dir", tarfile.DIRTYPE, mode=0o755), None),
        (member("dir/" + "n" * 150), b"long name" * 100),
        (member("dir/caf\u00e9"), b"utf-8"),
        (member("dir/empty"), b""),
        (member("link", tarfile.SYMTYPE, link="dir/" + "t" * 200), None),
        (member("hard", tarfile.LNKTYPE, link="dir/empty"), None),
    ]
    for number, fmt in enumerate((tarfile.PAX_FORMAT, tarfile.GNU_FORMAT)):
        tar = tar_bytes(*members, fmt=fmt)
        assert len(tar) % 10240 == 0  # tarfile pads to its record size
        assert regenerate(tmp_path / f"layer{number}", tar) == tar


def test_blocks_of_the_read_ahead_cut_headers_and_files_anywhere(tmp_path: Path) -> None:
    # file sizes chosen so that headers and data cross the 1 MiB blocks at odd places
    sizes = [(1 << 20) - 512 * 3, 1, 511, 512, 513, (1 << 20) + 7, 3 << 20, 100]
    members = [(member(f"f{n}"), os.urandom(size)) for n, size in enumerate(sizes)]
    members += [(member(f"many/{n}"), b"x" * (n % 700)) for n in range(3000)]
    tar = tar_bytes(*members)
    assert regenerate(tmp_path / "layer", tar) == tar


def test_entries_that_replace_earlier_files_of_the_same_layer(tmp_path: Path) -> None:
    tar = tar_bytes(
        (member("a/b/keep"), b"kept"),
        (member("a/b/file"), b"first version"),
        (member("a/b/file"), b"second version"),  # a duplicate name
        (member("a/gone"), b"whited out below"),
        (member("a/.wh.gone"), b""),  # a whiteout of a file of this very layer
        (member("a/b", tarfile.DIRTYPE), None),  # a directory entry over a directory: kept
        (member("x/y/z"), b"under a directory that a file replaces"),
        (member("x/y"), b"the file that replaces it"),
        (member("d", tarfile.DIRTYPE), None),
        (member("f"), b"a file a directory replaces"),
        (member("f", tarfile.DIRTYPE), None),
        (member("f/inner"), b"inside"),
        (member("l"), b"linked twice"),
        (member("l2", tarfile.LNKTYPE, link="l"), None),
        (member("l"), b"replaced after the link"),
        (member("x/y"), b"replaced twice"),
    )
    layer = tmp_path / "layer"
    assert regenerate(layer, tar) == tar
    diff = layer / "diff"
    assert sorted(os.listdir(layer / "rescued")) == [str(n) for n in range(6)]
    assert (diff / "a/b/file").read_bytes() == b"second version"
    assert (diff / "x/y").read_bytes() == b"replaced twice"
    assert (diff / "l2").read_bytes() == b"linked twice"
    assert (diff / "f/inner").read_bytes() == b"inside"


def test_data_the_tree_does_not_hold_is_kept_in_the_record(tmp_path: Path) -> None:
    # (libarchive refuses data after a directory, symlink or hard link header: no case)
    tar = raw_tar(
        raw_header(b"file", size=4),
        b"data",
        raw_header(b"x/.wh..wh.plnk/123", size=4),  # aufs metadata: skipped
        b"aufs",
        raw_header(b"x/.wh.other", size=2),  # a whiteout with data
        b"wh",
    )
    tar += b"\0" * 4096 + b"trailing bytes after the end of the archive"
    assert regenerate(tmp_path / "layer", tar) == tar


def test_an_empty_and_a_tiny_layer(tmp_path: Path) -> None:
    assert regenerate(tmp_path / "empty", b"") == b""
    assert regenerate(tmp_path / "end-only", b"\0" * 1024) == b"\0" * 1024


def test_a_changed_tree_is_one_clear_error(tmp_path: Path) -> None:
    tar = tar_bytes((member("a"), b"A" * 5000), (member("b"), b"B" * 3000))
    layer = tmp_path / "layer"
    regenerate(layer, tar)
    diff_id = Digest("sha256", hashlib.sha256(tar).hexdigest())
    (layer / "diff/b").write_bytes(b"C" * 3000)  # same size, other bytes
    with pytest.raises(DockyardError, match="no longer give the tar of its diff ID"):
        with open_regenerated(layer, diff_id) as stream:
            stream.read()
    (layer / "diff/b").write_bytes(b"B" * 10)
    with pytest.raises(DockyardError, match="shorter than its tar entry"):
        with open_regenerated(layer, diff_id) as stream:
            stream.read()
    (layer / "diff/b").unlink()
    with pytest.raises(DockyardError, match="cannot read"):
        with open_regenerated(layer, diff_id) as stream:
            stream.read()
    record = (layer / RECORD_NAME).read_bytes()
    (layer / RECORD_NAME).write_bytes(record[:100])  # cut short
    with pytest.raises(DockyardError, match="record is damaged"):
        open_regenerated(layer, diff_id)
    (layer / RECORD_NAME).write_bytes(b"not a record")
    with pytest.raises(DockyardError, match="record is damaged"):
        open_regenerated(layer, diff_id)


def test_the_last_bytes_wait_for_the_digest_check(tmp_path: Path) -> None:
    tar = tar_bytes((member("a"), b"A" * 5000))
    layer = tmp_path / "layer"
    regenerate(layer, tar)
    (layer / "diff/a").write_bytes(b"Z" * 5000)
    diff_id = Digest("sha256", hashlib.sha256(tar).hexdigest())
    received = bytearray()
    with pytest.raises(DockyardError):
        with open_regenerated(layer, diff_id) as stream:
            while chunk := stream.read(512):
                received += chunk
    assert len(received) < len(tar)


def test_a_compressed_layer_keeps_no_record(tmp_path: Path) -> None:
    import gzip

    tar = tar_bytes((member("a"), b"A" * 5000))
    (tmp_path / "diff").mkdir()
    sink = io.BytesIO()
    applied = apply_layer(
        io.BytesIO(gzip.compress(tar)),
        tmp_path / "diff",
        tee=sink,
        tar_split=tmp_path / RECORD_NAME,
    )
    assert not applied.tar_split and not (tmp_path / RECORD_NAME).exists()
    assert gzip.decompress(sink.getvalue()) == tar


def test_a_stream_closed_before_its_end_stops_its_threads(tmp_path: Path) -> None:
    import threading

    # more than the reader's ring of buffers holds: it is waiting for one when closed
    tar = tar_bytes(*[(member(f"f{n}"), os.urandom(1 << 20)) for n in range(6)])
    layer = tmp_path / "layer"
    regenerate(layer, tar)
    diff_id = Digest("sha256", hashlib.sha256(tar).hexdigest())
    with open_regenerated(layer, diff_id) as stream:
        assert stream.read(4096) == tar[:4096]
    assert not [t for t in threading.enumerate() if t.name.startswith("dockyard-tar-")]
    with open_regenerated(layer, diff_id) as stream:  # and chunks() hands out the same bytes
        assert stream.read(100) == tar[:100]
        assert b"".join(bytes(chunk) for chunk in stream.chunks()) == tar[100:]
