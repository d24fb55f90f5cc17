"""snapshot_layer (commit's one-pass walk) against the two-step way it replaces:
the tar must be byte for byte create_layer's, the directory what apply_layer
makes of that tar."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from dockyard.layers.apply import apply_layer
from dockyard.layers.create import create_layer
from dockyard.layers.snapshot import snapshot_layer
from tests.layers.support import Overlay, build_tree, container_changes, make_lower, snapshot

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (owners, devices)")


def two_step(upper: Path, target: Path, exclude: list[str]) -> tuple[bytes, object]:
    out = io.BytesIO()
    created = create_layer(upper, out, overlay_upper=True, exclude=exclude)
    target.mkdir()
    applied = apply_layer(io.BytesIO(out.getvalue()), target)
    assert created.diff_id == applied.diff_id
    return out.getvalue(), applied


def one_pass(upper: Path, target: Path, exclude: list[str]) -> tuple[bytes, object]:
    out = io.BytesIO()
    target.mkdir()
    layer = snapshot_layer(upper, target, out, exclude=exclude)
    return out.getvalue(), layer


def with_whiteouts(root: Path) -> None:
    """What an overlay upper holds besides plain files: whiteouts and an opaque dir."""
    os.mknod(root / "etc/.gone", stat.S_IFCHR, os.makedev(0, 0))
    os.chown(root / "etc/.gone", 0, 0)
    opaque = root / "tmp/replaced"
    opaque.mkdir()
    (opaque / "fresh").write_text("fresh\n")
    os.setxattr(opaque, "trusted.overlay.opaque", b"y")
    os.chmod(opaque, 0o751)
    (root / "etc/hosts").write_text("engine-owned, left out\n")
    (root / "sock-dir").mkdir()
    os.utime(root / "tmp", (1_600_000_000, 1_600_000_000))


def test_rich_tree_gives_the_same_tar_and_the_same_directory(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    build_tree(upper)
    with_whiteouts(upper)
    exclude = ["etc/hosts"]
    expected_tar, applied = two_step(upper, tmp_path / "applied", exclude)
    tar, layer = one_pass(upper, tmp_path / "copied", exclude)
    assert tar == expected_tar
    assert (layer.diff_id, layer.size, layer.tar_size) == (  # type: ignore[attr-defined]
        applied.diff_id,  # type: ignore[attr-defined]
        applied.size,  # type: ignore[attr-defined]
        applied.tar_size,  # type: ignore[attr-defined]
    )
    copied = snapshot(tmp_path / "copied", skip_root=True)
    assert copied == snapshot(tmp_path / "applied", skip_root=True)
    assert b"etc/hosts" not in copied
    assert copied[b"etc/.gone"][0] == "dev"  # the whiteout stays a whiteout device
    assert os.getxattr(tmp_path / "copied/tmp/replaced", "trusted.overlay.opaque") == b"y"
    assert copied[b"bin/tool-hardlink"] == ("link", b"bin/tool")


def test_real_overlay_upper_matches_the_two_step_commit(tmp_path: Path) -> None:
    lower = make_lower(tmp_path)
    overlay = Overlay(tmp_path, [lower])
    try:
        container_changes(overlay.merged)
    finally:
        overlay.unmount()
    expected_tar, _ = two_step(overlay.upper, tmp_path / "applied", ["etc/hosts"])
    tar, _ = one_pass(overlay.upper, tmp_path / "copied", ["etc/hosts"])
    assert tar == expected_tar
    assert snapshot(tmp_path / "copied", skip_root=True) == snapshot(
        tmp_path / "applied", skip_root=True
    )


def test_a_symlinked_directory_is_recorded_as_a_link_and_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host file\n")
    upper = tmp_path / "upper"
    upper.mkdir()
    os.symlink(outside, upper / "escape")
    tar, layer = one_pass(upper, tmp_path / "copied", [])
    assert b"host file" not in tar
    assert os.readlink(tmp_path / "copied/escape") == str(outside)
    assert layer.size == len(str(outside))  # type: ignore[attr-defined]


@pytest.mark.parametrize("stable", [True, False])
def test_store_layer_from_upper_keeps_the_tar_as_its_blob(tmp_path: Path, stable: bool) -> None:
    """Through the store: big files take the kernel-copy path when the source is stable."""
    from dockyard.store import Store

    upper = tmp_path / "upper"
    build_tree(upper)  # holds a 3 MiB file: above the kernel-copy threshold
    (upper / "bigger").write_bytes(os.urandom((5 << 20) + 123))
    with_whiteouts(upper)
    expected_tar, _ = two_step(upper, tmp_path / "applied", ["etc/hosts"])
    store = Store.open(tmp_path / "store")
    try:
        layer = store.add_layer_from_upper(upper, None, exclude=["etc/hosts"], stable=stable)
        assert store.blobs.read(layer.blob) == expected_tar
        assert layer.diff_id == layer.blob
        assert snapshot(layer.dir, skip_root=True) == snapshot(tmp_path / "applied", skip_root=True)
        assert not list((tmp_path / "store/tmp").iterdir())  # no staging or temp blob left
    finally:
        store.close()
