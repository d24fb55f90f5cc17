"""write_tree (the writer behind `export`): the same bytes as create_layer into
every kind of sink, file data cut or zero-padded to the header's size, a stack
of layer directories read exactly as the overlay mounted from it, and `export`
of a stopped container without a mount."""

from __future__ import annotations

import gc
import io
import os
import stat
import threading
from pathlib import Path

import pytest

from dockyard.layers import create
from dockyard.layers.create import create_layer, write_tree
from tests.layers.support import build_tree, mount_overlay, unmount

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="owners, devices and overlay need root")

WHITEOUT = stat.S_IFCHR | 0o600
OPAQUE = "trusted.overlay.opaque"


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rich") / "tree"
    build_tree(root)
    (root / "big-ids").write_text("x")
    os.chown(root / "big-ids", 3_000_000, 4_000_000)  # beyond 7 octal digits: pax uid/gid
    with open(root / "sparse", "wb") as handle:
        handle.truncate(5 << 20)
    (root / "medium").write_bytes(os.urandom(100_000))  # above the sendfile threshold
    (root / "upperish").mkdir()
    os.mknod(root / "upperish/gone", WHITEOUT, 0)
    os.setxattr(root / "upperish", OPAQUE, b"y")
    os.link(root / "medium", root / "upperish/medium-link")
    return root


def reference(source: Path, **options) -> bytes:
    out = io.BytesIO()
    created = create_layer(source, out, **options)
    assert created.tar_size == len(out.getvalue())
    return out.getvalue()


@pytest.mark.parametrize("options", [{}, {"overlay_upper": True, "exclude": ["etc/config"]}])
@pytest.mark.parametrize("mode", ["wb", "w+b", "ab", "unbuffered"])
def test_files_get_the_bytes_of_create_layer(
    rich: Path, tmp_path: Path, options: dict, mode: str
) -> None:
    target = tmp_path / "out.tar"
    with open(target, "wb") as out:
        out.write(b"preamble")  # flushed before the descriptor is written to
        if mode != "wb":
            out.close()
            out = open(target, "ab") if mode == "ab" else open(target, "r+b", buffering=0)  # noqa: SIM115
            out.seek(0, os.SEEK_END)
        with out:
            written = write_tree(rich, out, **options)  # type: ignore[arg-type]
    expected = reference(rich, **options)
    assert target.read_bytes() == b"preamble" + expected
    assert written.tar_size == len(expected)
    sizes = create_layer(rich, io.BytesIO(), **options).size
    assert written.size == sizes


def test_pipes_and_other_sinks_get_the_bytes_of_create_layer(rich: Path) -> None:
    expected = reference(rich)
    read_fd, write_fd = os.pipe()
    received = bytearray()

    def drain() -> None:
        with os.fdopen(read_fd, "rb") as source:
            while chunk := source.read(1 << 16):
                received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    with os.fdopen(write_fd, "wb") as out:
        write_tree(rich, out)
    reader.join()
    assert bytes(received) == expected

    class Sink(io.RawIOBase):  # a non-file sink (the daemon's HTTP response)
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
            self.data.extend(data)
            return len(data)

    sink = Sink()
    write_tree(rich, sink)  # type: ignore[arg-type]
    assert bytes(sink.data) == expected
    memory = io.BytesIO()
    write_tree(rich, memory)
    assert memory.getvalue() == expected


@pytest.mark.parametrize(
    ("hashing", "fd_sink"), [(False, False), (True, False), (False, True), (True, True)]
)
@pytest.mark.parametrize("actual", [1000, 200_000, 3 << 20])
def test_file_data_is_cut_or_zero_padded_to_the_header_size(
    tmp_path: Path, hashing: bool, fd_sink: bool, actual: int
) -> None:
    """A file that changed size between lstat and reading (a running container)."""
    content = os.urandom(actual)
    source = tmp_path / "changing"
    source.write_bytes(content)
    for claimed in (actual // 2, actual + 70_000, actual * 2 + 5):
        target = tmp_path / "out"
        with open(target, "wb") as out:
            fd = os.open(source, os.O_RDONLY)
            writer = create._Writer(out, hashing=hashing, fd=out.fileno() if fd_sink else None)
            writer.file_data(fd, claimed)
            writer.close()
        expected = (content + bytes(claimed))[:claimed]
        assert target.read_bytes() == expected + bytes(-claimed % 512)
        assert writer.count == len(expected) + (-claimed % 512)


def test_a_failing_sink_leaves_no_file_open(rich: Path) -> None:
    gc.collect()  # descriptors earlier tests left to the collector are not counted
    open_before = len(os.listdir("/proc/self/fd"))
    read_fd, write_fd = os.pipe()
    os.close(read_fd)  # every write fails with EPIPE
    with os.fdopen(write_fd, "wb") as out, pytest.raises(BrokenPipeError):
        write_tree(rich, out)
    assert len(os.listdir("/proc/self/fd")) == open_before


def build_layers(base: Path) -> list[Path]:
    """Three layer directories (bottom first) with every overlay merge rule in play."""
    bottom, middle, top = (base / name for name in ("bottom", "middle", "top"))
    build_tree(bottom)
    (bottom / "merged/deep").mkdir(parents=True)
    (bottom / "merged/deep/from-bottom").write_text("b")
    (bottom / "merged/shadowed").write_text("bottom version")
    (bottom / "opaque-here").mkdir()
    (bottom / "opaque-here/hidden").write_text("hidden by the opaque middle dir")
    (bottom / "file-becomes-dir").write_text("f")
    (bottom / "dir-becomes-file").mkdir()
    (bottom / "dir-becomes-file/child").write_text("c")
    (bottom / "under-a-file/child").mkdir(parents=True)
    (bottom / "lonely-whiteout-parent").mkdir()
    os.mknod(bottom / "lonely-whiteout-parent/ghost", WHITEOUT, 0)  # hides nothing

    middle.mkdir()
    (middle / "merged/deep").mkdir(parents=True)
    (middle / "merged/deep/from-middle").write_text("m")
    (middle / "merged/shadowed").write_text("middle version")
    os.chmod(middle / "merged", 0o710)
    os.setxattr(middle / "merged", "user.layer", b"middle")
    (middle / "opaque-here").mkdir()
    os.setxattr(middle / "opaque-here", OPAQUE, b"y")
    (middle / "opaque-here/new").write_text("n")
    (middle / "file-becomes-dir").mkdir()
    (middle / "file-becomes-dir/inside").write_text("i")
    (middle / "dir-becomes-file").write_text("now a file")
    (middle / "under-a-file").write_text("a file over a directory")
    (middle / "etc").mkdir()
    os.mknod(middle / "etc/config", WHITEOUT, 0)
    os.mknod(middle / "home", WHITEOUT, 0)  # a whole directory

    top.mkdir()
    (top / "merged").mkdir()
    os.chown(top / "merged", 5, 6)
    (top / "merged/top-file").write_text("t")
    (top / "merged/linked").write_text("hardlinked")
    os.link(top / "merged/linked", top / "merged/linked-too")
    (top / "under-a-file").mkdir()  # a directory again: nothing below it shows
    (top / "under-a-file/fresh").write_text("f")
    (top / "home").mkdir()  # back, empty, over the whiteout
    os.mknod(top / "big", WHITEOUT, 0)
    (top / "tmp").mkdir()
    os.setxattr(top / "tmp", OPAQUE, b"y")
    os.symlink("merged/top-file", top / "to-top")
    for layer in (bottom, middle, top):
        for path in [layer, *layer.rglob("*")]:
            os.utime(path, (1_600_000_000, 1_600_000_000), follow_symlinks=False)
    return [bottom, middle, top]


def test_a_stack_of_layers_reads_as_its_overlay_mount(tmp_path: Path) -> None:
    bottom, middle, top = build_layers(tmp_path)
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    mount_overlay([top, middle, bottom], mounted)
    try:
        through_mount = io.BytesIO()
        write_tree(mounted, through_mount)
    finally:
        unmount(mounted)
    merged = io.BytesIO()
    write_tree([top, middle, bottom], merged)
    assert merged.getvalue() == through_mount.getvalue()
    names = [info.name for info in _members(merged.getvalue())]
    assert "opaque-here/hidden" not in names and "opaque-here/new" in names
    assert "under-a-file/child" not in names and "under-a-file/fresh" in names
    assert "merged/deep/from-bottom" in names and "big" not in names
    with open(tmp_path / "as-file.tar", "wb") as out:
        write_tree([top, middle, bottom], out)
    assert (tmp_path / "as-file.tar").read_bytes() == merged.getvalue()


def _members(data: bytes) -> list:
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data), errors="surrogateescape") as archive:
        return archive.getmembers()


@pytest.fixture
def stopped(tmp_path: Path, busybox_tar: Path) -> tuple[Path, Path]:
    """A created (never started) busybox container with changes in its upper directory."""
    from tests.containers.support import make_busybox_root

    root = tmp_path / "store"
    cli = make_busybox_root(root, busybox_tar)
    cli("create", "--name", "exp", "--network", "none", "busybox", "true")
    (directory,) = (root / "containers").iterdir()
    upper = directory / "upper"
    (upper / "etc").mkdir()
    (upper / "etc/added").write_text("new\n")
    os.mknod(upper / "etc/passwd", WHITEOUT, 0)  # deleted
    (upper / "bin").mkdir()
    os.setxattr(upper / "bin", OPAQUE, b"y")  # replaced wholesale
    (upper / "bin/only").write_text("#!/bin/sh\n")
    return root, directory


def _export(root: Path, monkeypatch: pytest.MonkeyPatch, *, mount: bool) -> bytes:
    from dockyard.containers import export
    from dockyard.store import Store

    if not mount:

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("mounted a read-only overlay")

        monkeypatch.setattr(export.rootfs, "mounted_readonly", refuse)
    out = io.BytesIO()
    try:
        export.export_container(Store.open(str(root)), "exp", out)
    finally:
        monkeypatch.undo()
    return out.getvalue()


def test_a_stopped_container_exports_without_a_mount(
    stopped: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dockyard.containers.export import merged_view

    root, directory = stopped
    data = _export(root, monkeypatch, mount=False)
    with merged_view(directory) as view:
        through_mount = io.BytesIO()
        write_tree(view, through_mount, owner_names=True)
    assert data == through_mount.getvalue()  # names too, from the merged /etc/group
    members = _members(data)
    names = {info.name for info in members}
    assert {"etc/added", "bin/only", ".dockerenv"} <= names
    # /etc/passwd is whited out: uid 0 is the host's root (Go's cached current user)
    assert {(m.uname, m.gname) for m in members if m.uid == m.gid == 0} == {("root", "root")}
    assert "etc/passwd" not in names and "bin/sh" not in names
    assert not list(directory.glob("ro-*"))


def test_an_upper_with_renamed_directories_is_read_through_a_mount(
    stopped: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dockyard.containers.export import layer_stack

    root, directory = stopped
    assert layer_stack(directory) is not None
    os.setxattr(directory / "upper/bin", "trusted.overlay.redirect", b"/usr/bin")
    assert layer_stack(directory) is None
    with pytest.raises(AssertionError, match="mounted"):
        _export(root, monkeypatch, mount=False)
    assert {"etc/added", "bin/only"} <= {
        info.name for info in _members(_export(root, monkeypatch, mount=True))
    }
