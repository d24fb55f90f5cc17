"""create_layer: format, determinism, hardlinks, excludes, overlay upper directories
(whiteouts, opaque dirs) through a real overlay mount; changes() for docker diff."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from dockyard.layers.apply import apply_layer
from dockyard.layers.changes import changes
from dockyard.layers.compression import compress_gzip, compress_zstd, detect_compression
from dockyard.layers.create import create_layer
from tests.layers.support import (
    Overlay,
    build_tree,
    container_changes,
    layer_of,
    make_lower,
    snapshot,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="owners, devices and overlay need root")


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), encoding="utf-8", errors="surrogateescape") as tar:
        return tar.getmembers()


def test_entries_are_relative_sorted_and_numeric(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "b/inner").mkdir(parents=True)
    (source / "a").write_text("a")
    (source / "b/inner/z").write_text("z")
    (source / "b/c").write_text("c")
    (source / "b-sibling").write_text("s")
    os.chown(source / "a", 4242, 4343)
    out = io.BytesIO()

    created = create_layer(source, out)

    data = out.getvalue()
    names = [info.name + ("/" if info.isdir() else "") for info in members(data)]
    assert names == ["a", "b/", "b/c", "b/inner/", "b/inner/z", "b-sibling"]
    assert raw_names(data) == [b"a", b"b/", b"b/c", b"b/inner/", b"b/inner/z", b"b-sibling"]
    first = members(data)[0]
    assert (first.uid, first.gid, first.uname, first.gname) == (4242, 4343, "", "")
    assert data.endswith(bytes(1024)) and len(data) % 512 == 0
    assert created.tar_size == len(data)
    assert created.diff_id.hex == hashlib.sha256(data).hexdigest()
    assert created.size == 4


def raw_names(data: bytes) -> list[bytes]:
    """Names exactly as stored in the ustar name fields."""
    names, offset = [], 0
    while offset < len(data) and data[offset : offset + 512] != bytes(512):
        header = data[offset : offset + 512]
        names.append(header[:100].rstrip(b"\0"))
        size = int(header[124:136].rstrip(b"\0 ") or b"0", 8)
        offset += 512 + -(-size // 512) * 512
    return names


def test_same_tree_gives_byte_identical_tars(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    build_tree(first)
    # The same content created in another order: other inodes, other readdir order.
    subprocess.run(["cp", "-a", str(first), str(second)], check=True)
    shutil.rmtree(second / "etc")
    shutil.copytree(first / "etc", second / "etc", symlinks=True)
    os.utime(second / "etc", ns=(os.stat(first / "etc").st_mtime_ns,) * 2)
    os.utime(second, ns=(os.stat(first).st_mtime_ns,) * 2)

    assert layer_of(first) == layer_of(first)
    assert layer_of(first) == layer_of(second)


def test_hardlinks_long_names_and_xattrs_are_encoded(tmp_path: Path) -> None:
    source = tmp_path / "source"
    build_tree(source)
    by_name = {info.name: info for info in members(layer_of(source))}
    link = by_name["bin/tool-hardlink"]
    assert link.islnk() and link.linkname == "bin/tool"
    assert by_name["bin/tool"].pax_headers["SCHILY.xattr.security.capability"]
    assert by_name["long-target-link"].linkname == "t" * 300
    assert by_name["dev/null"].ischr() and (
        by_name["dev/null"].devmajor,
        by_name["dev/null"].devminor,
    ) == (1, 3)
    assert by_name["dev/fifo"].isfifo()
    assert os.fsdecode(b"caf\xe9-latin1") in by_name
    deep = [name for name in by_name if name.endswith("x" * 200)]
    assert len(deep) == 1 and len(deep[0]) > 300


def test_exclude_leaves_out_paths_and_subtrees(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "etc").mkdir(parents=True)
    for name in ("hosts", "hostname", "resolv.conf", "passwd"):
        (source / "etc" / name).write_text(name)
    (source / ".dockerenv").write_text("")
    (source / "cache/deep").mkdir(parents=True)
    (source / "cache/deep/file").write_text("x")
    out = io.BytesIO()
    create_layer(
        source,
        out,
        exclude=["etc/hosts", "/etc/hostname", "./etc/resolv.conf", ".dockerenv", "cache/"],
    )
    assert [info.name for info in members(out.getvalue())] == ["etc", "etc/passwd"]


def test_compressed_layers_apply_back(tmp_path: Path) -> None:
    source = tmp_path / "source"
    build_tree(source)
    tar = layer_of(source)
    for name, compress in (("gzip", compress_gzip), ("zstd", compress_zstd)):
        blob = io.BytesIO()
        compress(io.BytesIO(tar), blob)
        assert detect_compression(blob.getvalue()[:6]) == name
        target = tmp_path / name
        target.mkdir()
        applied = apply_layer(io.BytesIO(blob.getvalue()), target)
        assert applied.diff_id.hex == hashlib.sha256(tar).hexdigest()
        assert snapshot(target, skip_root=True) == snapshot(source, skip_root=True)


def test_overlay_upper_becomes_a_layer_that_reproduces_the_container(tmp_path: Path) -> None:
    lower = make_lower(tmp_path)
    overlay = Overlay(tmp_path, [lower])
    try:
        container_changes(overlay.merged)
        expected = snapshot(overlay.merged, skip_root=True)
    finally:
        overlay.unmount()
    out = io.BytesIO()
    create_layer(overlay.upper, out, overlay_upper=True, exclude=["etc/hosts"])
    data = out.getvalue()
    infos = members(data)
    names = [info.name for info in infos]
    assert "etc/.wh.issue" in names
    assert "var/.wh.cache" in names
    opaque = names.index("var/lib/old/.wh..wh..opq")
    assert names[opaque - 1] == "var/lib/old"  # right after its directory
    assert "etc/hosts" not in names
    assert all(info.isreg() and info.size == 0 for info in infos if "/.wh." in "/" + info.name)
    assert not any("overlay" in key for info in infos for key in info.pax_headers)

    # The layer on top of the image shows what the container saw.
    layer = tmp_path / "layer"
    merged = tmp_path / "check"
    layer.mkdir()
    merged.mkdir()
    apply_layer(io.BytesIO(data), layer)
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={layer}:{lower}", str(merged)],
        check=True,
    )
    try:
        seen = snapshot(merged, skip_root=True)
    finally:
        subprocess.run(["umount", str(merged)], check=True)
    expected[b"etc/hosts"] = seen[b"etc/hosts"]  # excluded: the image's file shows through
    assert seen == expected
    assert (lower / "etc/hosts").read_text() == "127.0.0.1 localhost\n"


def test_changes_lists_a_c_d_like_docker_diff(tmp_path: Path) -> None:
    lower = make_lower(tmp_path)
    overlay = Overlay(tmp_path, [lower])
    try:
        container_changes(overlay.merged)
    finally:
        overlay.unmount()

    found = changes(overlay.upper, [lower], exclude=["etc/hosts"])

    assert found == [
        ("C", "/etc"),
        ("D", "/etc/issue"),
        ("C", "/etc/motd"),
        ("C", "/root"),
        ("A", "/root/new"),
        ("C", "/tmp"),
        ("A", "/tmp/d"),
        ("A", "/tmp/d/e"),
        ("A", "/tmp/d/e/f"),
        ("C", "/var"),
        ("D", "/var/cache"),
        ("C", "/var/lib"),
        ("C", "/var/lib/old"),
        ("A", "/var/lib/old/fresh"),
    ]


def test_changes_follow_overlay_rules_across_several_lowers(tmp_path: Path) -> None:
    bottom, middle, upper = tmp_path / "bottom", tmp_path / "middle", tmp_path / "upper"
    (bottom / "opaque").mkdir(parents=True)
    (bottom / "opaque/hidden").write_text("hidden by the middle layer")
    (bottom / "gone").write_text("deleted by the middle layer")
    (bottom / "link").symlink_to("/etc")
    (middle / "opaque").mkdir(parents=True)
    os.setxattr(middle / "opaque", "trusted.overlay.opaque", b"y")
    os.mknod(middle / "gone", stat.S_IFCHR, os.makedev(0, 0))
    (upper / "opaque").mkdir(parents=True)
    (upper / "opaque/hidden").write_text("new again")
    (upper / "gone").write_text("new again")
    (upper / "link").mkdir()
    (upper / "link/passwd").write_text("not the host's")

    found = changes(upper, [middle, bottom])

    assert found == [
        ("A", "/gone"),
        ("C", "/link"),
        ("A", "/link/passwd"),
        ("C", "/opaque"),
        ("A", "/opaque/hidden"),
    ]
