"""apply_layer: round trips, compression by magic, diff IDs, tee, whiteouts under a
real overlay mount."""

from __future__ import annotations

import bz2
import errno
import gzip
import hashlib
import io
import lzma
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from dockyard.errors import InvalidArchive
from dockyard.layers.apply import apply_layer
from dockyard.layers.compression import detect_compression
from tests.layers.support import (
    CAPABILITY,
    OLD,
    build_tree,
    layer_of,
    member,
    mount_overlay,
    snapshot,
    tar_bytes,
    unmount,
    without_xattrs,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="owners, devices and overlay need root")


def test_round_trip_keeps_every_kind_of_entry_and_metadata(tmp_path: Path) -> None:
    source = tmp_path / "source"
    build_tree(source)
    data = layer_of(source)
    target = tmp_path / "target"
    target.mkdir()

    applied = apply_layer(io.BytesIO(data), target)

    assert snapshot(target, skip_root=True) == snapshot(source, skip_root=True)
    assert os.getxattr(target / "bin/tool", "security.capability") == CAPABILITY
    assert stat.S_IMODE(os.stat(target / "bin/tool").st_mode) == 0o4755
    assert os.stat(target / "bin/tool").st_ino == os.stat(target / "bin/tool-hardlink").st_ino
    assert os.readlink(target / "long-target-link") == "t" * 300
    assert os.stat(target / "etc").st_mtime == OLD - 1000
    assert applied.diff_id.hex == hashlib.sha256(data).hexdigest()
    assert applied.tar_size == len(data)


def test_gnu_tar_reads_what_create_writes(tmp_path: Path) -> None:
    # An independent reader: GNU tar must extract the same tree from our tar.
    source = tmp_path / "source"
    build_tree(source)
    (tmp_path / "layer.tar").write_bytes(layer_of(source))
    extracted = tmp_path / "gnu"
    extracted.mkdir()
    subprocess.run(
        ["tar", "--xattrs", "--xattrs-include=*", "-xpf", str(tmp_path / "layer.tar")],
        cwd=extracted,
        check=True,
    )
    assert snapshot(extracted, skip_root=True) == snapshot(source, skip_root=True)


@pytest.mark.parametrize("tar_format", ["gnu", "pax", "ustar"])
def test_applies_what_gnu_tar_writes(tmp_path: Path, tar_format: str) -> None:
    source = tmp_path / "source"
    build_tree(source)
    if tar_format == "ustar":  # ustar cannot hold the 300-byte link target or long names
        os.unlink(source / "long-target-link")
        subprocess.run(["rm", "-rf", str(source / "directory-with-a-long-name")], check=True)
    archive = tmp_path / "gnu.tar"
    xattrs = [] if tar_format == "ustar" else ["--xattrs", "--xattrs-include=*"]
    subprocess.run(
        ["tar", f"--format={tar_format}", *xattrs, "-cf", str(archive), "-C", str(source), "."],
        check=True,
    )
    target = tmp_path / "target"
    target.mkdir()
    with archive.open("rb") as stream:
        applied = apply_layer(stream, target)
    expected = snapshot(source, skip_root=True)
    if tar_format == "ustar":
        expected = without_xattrs(expected)
    assert snapshot(target, skip_root=True) == expected
    # GNU tar pads to 10 KiB records: the diff ID covers every byte up to EOF.
    assert applied.diff_id.hex == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert applied.tar_size == archive.stat().st_size


COMPRESSORS = {
    "gzip": lambda data: gzip.compress(data, 6),
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "none": lambda data: data,
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_compression_is_detected_by_magic(tmp_path: Path, kind: str) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "hello").write_text("hello world\n" * 1000)
    (source / "sub").mkdir()
    (source / "sub/zeros").write_bytes(bytes(100_000))
    tar = layer_of(source)
    blob = COMPRESSORS[kind](tar)
    assert detect_compression(blob[:6]) == kind
    target = tmp_path / "target"
    target.mkdir()
    tee = io.BytesIO()

    applied = apply_layer(io.BytesIO(blob), target, tee=tee)

    assert (target / "hello").read_text() == "hello world\n" * 1000
    assert (target / "sub/zeros").read_bytes() == bytes(100_000)
    assert applied.diff_id.hex == hashlib.sha256(tar).hexdigest()
    assert applied.tar_size == len(tar)
    assert applied.size == 12_000 + 100_000
    assert tee.getvalue() == blob
    assert applied.blob_digest is not None
    assert applied.blob_digest.hex == hashlib.sha256(blob).hexdigest()
    if kind == "none":
        assert applied.blob_digest == applied.diff_id


def test_tee_gets_every_raw_byte_of_a_multi_member_gzip(tmp_path: Path) -> None:
    tar = tar_bytes((member("a"), b"first"), (member("b"), b"second"))
    blob = gzip.compress(tar[:1024]) + gzip.compress(tar[1024:])
    tee = io.BytesIO()
    target = tmp_path / "target"
    target.mkdir()
    applied = apply_layer(io.BytesIO(blob), target, tee=tee)
    assert tee.getvalue() == blob
    assert applied.diff_id.hex == hashlib.sha256(tar).hexdigest()
    assert applied.blob_digest is not None
    assert applied.blob_digest.hex == hashlib.sha256(blob).hexdigest()
    assert (target / "b").read_bytes() == b"second"


@pytest.mark.parametrize("data", [b"", b"\x1f", b"\x00" * 5], ids=["empty", "1-byte", "5-zeros"])
def test_blob_digest_of_streams_shorter_than_the_magic(tmp_path: Path, data: bytes) -> None:
    # Too short to tell the compression: either an empty layer or refused, never a
    # wrong digest.
    target = tmp_path / "target"
    target.mkdir()
    tee = io.BytesIO()
    try:
        applied = apply_layer(io.BytesIO(data), target, tee=tee)
    except InvalidArchive:
        return
    assert tee.getvalue() == data
    assert applied.blob_digest is not None
    assert applied.blob_digest.hex == hashlib.sha256(data).hexdigest()


def test_diff_id_includes_padding_after_the_end_marker(tmp_path: Path) -> None:
    tar = tar_bytes((member("file"), b"content")) + bytes(8192)
    target = tmp_path / "target"
    target.mkdir()
    applied = apply_layer(io.BytesIO(tar), target)
    assert applied.diff_id.hex == hashlib.sha256(tar).hexdigest()
    assert applied.tar_size == len(tar)


def test_empty_stream_is_an_empty_layer(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    applied = apply_layer(io.BytesIO(b""), target)
    assert applied.size == 0 and applied.tar_size == 0
    assert applied.diff_id.hex == hashlib.sha256(b"").hexdigest()
    assert os.listdir(target) == []


def test_size_counts_files_and_symlink_targets_like_overlay2(tmp_path: Path) -> None:
    """Docker's layer Size is overlay2's DiffSize: lstat sizes of non-directories, each
    inode once (a symlink counts its target's length, a hardlink nothing more)."""
    tar = tar_bytes(
        (member("d/", tarfile.DIRTYPE, mode=0o755), None),
        (member("d/a"), b"12345"),
        (member("d/b"), b"1234567890"),
        (member("d/link", tarfile.SYMTYPE, link="a"), None),
        (member("d/hard", tarfile.LNKTYPE, link="d/a"), None),
    )
    target = tmp_path / "target"
    target.mkdir()
    assert apply_layer(io.BytesIO(tar), target).size == 16


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    tar = tar_bytes(
        (member("f"), b"old"),
        (member("f"), b"new"),
        (member("d/", tarfile.DIRTYPE, mode=0o755), None),
        (member("d/inner"), b"x"),
        (member("d"), b"now a file"),
        (member("e"), b"a file"),
        (member("e/", tarfile.DIRTYPE, mode=0o711), None),
        (member("e/inner"), b"y"),
        (member("s", tarfile.SYMTYPE, link="f"), None),
        (member("s"), b"not a link"),
    )
    target = tmp_path / "target"
    target.mkdir()
    apply_layer(io.BytesIO(tar), target)
    assert (target / "f").read_bytes() == b"new"
    assert (target / "d").read_bytes() == b"now a file"
    assert (target / "e/inner").read_bytes() == b"y"
    assert stat.S_IMODE(os.stat(target / "e").st_mode) == 0o711
    assert not (target / "s").is_symlink() and (target / "s").read_bytes() == b"not a link"


def test_directory_times_are_set_after_their_contents(tmp_path: Path) -> None:
    directory = member("d/", tarfile.DIRTYPE, mode=0o555)
    directory.mtime = 1_000_000
    tar = tar_bytes((directory, None), (member("d/a"), b"1"), (member("d/b/c"), b"2"))
    target = tmp_path / "target"
    target.mkdir()
    apply_layer(io.BytesIO(tar), target)
    info = os.stat(target / "d")
    assert info.st_mtime == 1_000_000
    assert stat.S_IMODE(info.st_mode) == 0o555
    # implicit parents are made like Docker's: 0755
    assert stat.S_IMODE(os.stat(target / "d/b").st_mode) == 0o755


def test_root_entry_and_dot_slash_prefixes(tmp_path: Path) -> None:
    root = member("./", tarfile.DIRTYPE, mode=0o751)
    tar = tar_bytes((root, None), (member("./a/./b"), b"x"), (member(".//c"), b"y"))
    target = tmp_path / "target"
    target.mkdir()
    apply_layer(io.BytesIO(tar), target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o751
    assert (target / "a/b").read_bytes() == b"x"
    assert (target / "c").read_bytes() == b"y"


def test_overlay_xattrs_in_an_archive_are_not_applied(tmp_path: Path) -> None:
    directory = member("d/", tarfile.DIRTYPE, mode=0o755)
    directory.pax_headers = {
        "SCHILY.xattr.trusted.overlay.opaque": "y",
        "SCHILY.xattr.trusted.overlay.redirect": "/elsewhere",
        "SCHILY.xattr.user.kept": "yes",
    }
    target = tmp_path / "target"
    target.mkdir()
    apply_layer(io.BytesIO(tar_bytes((directory, None))), target)
    assert os.listxattr(target / "d") == ["user.kept"]


def test_whiteouts_and_opaque_dirs_under_a_real_overlay_mount(tmp_path: Path) -> None:
    bottom = tar_bytes(
        (member("a/keep"), b"keep"),
        (member("a/gone"), b"gone"),
        (member("b/old1"), b"1"),
        (member("b/sub/old2"), b"2"),
        (member("c/file"), b"c"),
        (member("d"), b"d"),
    )
    top = tar_bytes(
        (member("a/.wh.gone"), b""),
        (member("b/", tarfile.DIRTYPE, mode=0o755), None),
        (member("b/.wh..wh..opq"), b""),
        (member("b/new"), b"new"),
        (member(".wh.c"), b""),
        (member(".wh.d"), b""),
        (member("e/.wh..wh..opq"), b""),  # opaque marker for a directory not listed
    )
    lower1, lower2, merged = tmp_path / "l1", tmp_path / "l2", tmp_path / "merged"
    for directory in (lower1, lower2, merged):
        directory.mkdir()
    apply_layer(io.BytesIO(bottom), lower1)
    apply_layer(io.BytesIO(top), lower2)

    whiteout = os.lstat(lower2 / "a/gone")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert os.getxattr(lower2 / "b", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(lower2 / "e", "trusted.overlay.opaque") == b"y"
    assert not (lower2 / "b/.wh..wh..opq").exists()

    mount_overlay([lower2, lower1], merged)
    try:
        assert (merged / "a/keep").read_bytes() == b"keep"
        assert not os.path.lexists(merged / "a/gone")
        assert sorted(os.listdir(merged / "b")) == ["new"]
        assert not os.path.lexists(merged / "c")
        assert not os.path.lexists(merged / "d")
        assert sorted(os.listdir(merged)) == ["a", "b", "e"]
    finally:
        unmount(merged)


@pytest.mark.parametrize("tar_format", ["gnu", "pax"])
def test_sparse_files_keep_their_holes_and_data(tmp_path: Path, tar_format: str) -> None:
    source = tmp_path / "source"
    source.mkdir()
    with open(source / "sparse", "wb") as handle:
        handle.seek(5 << 20)
        handle.write(b"middle")
        handle.truncate(12 << 20)  # a hole at the end too
    archive = tmp_path / "sparse.tar"
    subprocess.run(
        ["tar", f"--format={tar_format}", "--sparse", "-cf", str(archive), "-C", str(source), "."],
        check=True,
    )
    assert archive.stat().st_size < 1 << 20
    target = tmp_path / "target"
    target.mkdir()
    with archive.open("rb") as stream:
        applied = apply_layer(stream, target)
    data = (target / "sparse").read_bytes()
    assert len(data) == 12 << 20
    assert data[5 << 20 : (5 << 20) + 6] == b"middle"
    assert data.count(0) == len(data) - 6
    assert applied.size == 12 << 20


def test_parallel_applies_in_threads_do_not_interfere(tmp_path: Path) -> None:
    # Nothing process-wide (cwd, umask) is touched, so layers can extract side by side.
    from concurrent.futures import ThreadPoolExecutor

    source = tmp_path / "source"
    build_tree(source)
    data = layer_of(source)
    targets = [tmp_path / f"target{index}" for index in range(6)]
    for target in targets:
        target.mkdir()
    cwd = os.getcwd()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda t: apply_layer(io.BytesIO(data), t), targets))
    assert os.getcwd() == cwd
    assert len({result.diff_id for result in results}) == 1
    expected = snapshot(source, skip_root=True)
    for target in targets:
        assert snapshot(target, skip_root=True) == expected


def test_owners_hold_under_setgid_and_foreign_group_directories(tmp_path: Path) -> None:
    # New files take a setgid directory's group; every entry must still end up
    # with the owner its header names.
    shared = member("shared/", tarfile.DIRTYPE, mode=0o2775)
    shared.gid = 1234
    inner = member("shared/sub/", tarfile.DIRTYPE, mode=0o755)
    tar = tar_bytes(
        (shared, None),
        (member("shared/file"), b"root's"),
        (inner, None),
        (member("shared/sub/deeper"), b"root's too"),
        (member("top"), b"root's"),
    )
    target = tmp_path / "target"
    target.mkdir()
    os.chown(target, 0, 4321)
    os.chmod(target, 0o2775)
    apply_layer(io.BytesIO(tar), target)
    assert os.stat(target / "shared").st_gid == 1234
    assert stat.S_IMODE(os.stat(target / "shared").st_mode) == 0o2775
    for name in ("top", "shared/file", "shared/sub", "shared/sub/deeper"):
        assert (os.stat(target / name).st_uid, os.stat(target / name).st_gid) == (0, 0), name


def test_file_modes_are_exact_whatever_the_umask(tmp_path: Path) -> None:
    modes = [0o644, 0o755, 0o600, 0o444, 0o777, 0o4755, 0o2711, 0o1777, 0o000]
    tar = tar_bytes(*[(member(f"f{mode:o}", mode=mode), b"x") for mode in modes])
    target = tmp_path / "target"
    target.mkdir()
    old = os.umask(0o077)
    try:
        apply_layer(io.BytesIO(tar), target)
    finally:
        os.umask(old)
    for mode in modes:
        assert stat.S_IMODE(os.stat(target / f"f{mode:o}").st_mode) == mode


def _rich_layer() -> bytes:
    """Entries the extractor's shortcuts must get right: owners that need (or need
    not) a chown under setgid and foreign-group directories visited in turn,
    symlinks of other owners, modes the umask would change, xattrs on files and
    symlinks, hardlinks, devices, replaced entries."""

    def entry(name: str, kind: bytes = tarfile.REGTYPE, **fields) -> tarfile.TarInfo:  # type: ignore[no-untyped-def]
        info = member(name, kind, link=fields.pop("link", ""), mode=fields.pop("mode", 0o644))
        for key, value in fields.items():
            setattr(info, key, value)
        return info

    def node(name: str, kind: bytes, major: int, minor: int) -> tarfile.TarInfo:
        info = entry(name, kind, mode=0o660, uid=5, gid=6)
        info.devmajor, info.devminor = major, minor
        return info

    shared = entry("shared/", tarfile.DIRTYPE, mode=0o2775, gid=1234)
    other = entry("other/", tarfile.DIRTYPE, mode=0o750, uid=3, gid=4, mtime=1_600_000_000)
    with_xattrs = entry("other/xattrs", uid=9, gid=9)
    with_xattrs.pax_headers = {"SCHILY.xattr.user.note": "n", "SCHILY.xattr.trusted.overlay.x": "y"}
    link_xattrs = entry("other/link-xattrs", tarfile.SYMTYPE, link="xattrs")
    link_xattrs.pax_headers = {"SCHILY.xattr.trusted.t": "v"}
    members = [
        (entry("./", tarfile.DIRTYPE, mode=0o755), None),
        (shared, None),
        (entry("shared/root-file"), b"root's"),
        (entry("shared/their-file", uid=1000, gid=1000, mode=0o600), b"theirs"),
        (entry("shared/root-link", tarfile.SYMTYPE, link="root-file"), None),
        (other, None),
        (entry("other/plain", mode=0o664), b"plain"),
        (entry("other/setuid", mode=0o4755, uid=0, gid=0), b"suid"),
        (entry("shared/after-other"), b"back in shared"),
        (entry("shared/sub/", tarfile.DIRTYPE, mode=0o755), None),
        (entry("shared/sub/deeper", mode=0o640), b"deeper"),
        (entry("top-link", tarfile.SYMTYPE, link="shared/root-file", uid=7, gid=8), None),
        (with_xattrs, b"x"),
        (link_xattrs, None),
        (entry("hard", tarfile.LNKTYPE, link="other/plain"), None),
        (entry("dev/", tarfile.DIRTYPE, mode=0o755), None),
        (node("dev/null", tarfile.CHRTYPE, 1, 3), None),
        (node("dev/loop", tarfile.BLKTYPE, 7, 9), None),
        (entry("dev/fifo", tarfile.FIFOTYPE, mode=0o640), None),
        (entry("replaced"), b"first"),
        (entry("replaced", tarfile.SYMTYPE, link="shared"), None),
        (entry("replaced", mode=0o755), b"last"),
        (entry("modes/", tarfile.DIRTYPE, mode=0o711), None),
        (entry("modes/none", mode=0o000), b""),
        (entry("modes/sticky", mode=0o1777), b""),
        (entry("modes/world", mode=0o666), b""),
    ]
    members.append((entry("many/", tarfile.DIRTYPE, mode=0o755, mtime=1_234_567), None))
    members += [
        (entry(f"many/{index:03}", mtime=1_000_000 + index), b"%d" % index) for index in range(50)
    ]
    return tar_bytes(*members)


def test_applied_tree_matches_gnu_tar_for_a_rich_layer(tmp_path: Path) -> None:
    layer = tmp_path / "rich.tar"
    layer.write_bytes(_rich_layer())
    ours, gnu = tmp_path / "ours", tmp_path / "gnu"
    for root in (ours, gnu):
        root.mkdir()
        os.chown(root, 0, 4321)  # new entries would take this group (setgid)
        os.chmod(root, 0o2775)
    old = os.umask(0o027)
    try:
        with layer.open("rb") as stream:
            apply_layer(stream, ours)
    finally:
        os.umask(old)
    # Files and symlinks get the archived mtime as their atime too (as Docker does);
    # checked before anything reads them.
    for name in ("shared/root-file", "many/007", "top-link", "other/link-xattrs"):
        info = os.lstat(ours / name)
        assert info.st_atime_ns == info.st_mtime_ns, name
    subprocess.run(
        ["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", str(layer)],
        cwd=gnu,
        check=True,
    )
    os.removexattr(gnu / "other/xattrs", "trusted.overlay.x")  # never applied by us
    # GNU tar sets a directory's time when it leaves it, so a directory the archive
    # comes back to (shared/) gets the current time there: compare those apart.
    directories = {b".": 1_700_000_000, b"other": 1_600_000_000, b"many": 1_234_567}
    for name, when in directories.items():
        assert os.stat(os.path.join(os.fsencode(ours), name)).st_mtime == when, name

    def without_directory_times(tree: dict[bytes, tuple]) -> dict[bytes, tuple]:
        return {path: v[:-1] if v[0] == "dir" else v for path, v in tree.items()}

    assert without_directory_times(snapshot(ours)) == without_directory_times(snapshot(gnu))


def test_foreign_group_answer_is_recomputed_when_a_directory_is_added(tmp_path: Path) -> None:
    # Under the grpid mount option every directory hands its group down, so files
    # below a directory given another group must be chowned; the answer is
    # remembered per directory and must be forgotten when such a directory appears.
    from dockyard.layers._tree import Tree
    from dockyard.layers.apply import _Applier, _Entry
    from dockyard.layers.limits import DEFAULT_LIMITS

    root = tmp_path / "root"
    root.mkdir()
    os.chown(root, 0, 0)
    os.chmod(root, 0o755)
    tree = Tree(root)
    try:
        applier = _Applier(tree, None, DEFAULT_LIMITS)  # type: ignore[arg-type]
        applier.directory(_Entry(b"other/", [b"other"], 0o755, 0, 99, 0, []))
        assert applier.needs_chown([b"other", b"x"], 0, 0)
        assert not applier.needs_chown([b"a", b"x"], 0, 0)
        applier.directory(_Entry(b"a/", [b"a"], 0o2775, 0, 1234, 0, []))
        assert applier.needs_chown([b"a", b"y"], 0, 0)
        assert applier.needs_chown([b"a", b"b", b"z"], 0, 0)
        assert not applier.needs_chown([b"c", b"z"], 0, 0)
    finally:
        tree.close()


def test_disk_full_is_the_disk_error_not_the_archive(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], check=True)
    try:
        target = small / "target"
        target.mkdir()
        members = [(member(f"f{number}"), os.urandom(100_000)) for number in range(5)]
        with pytest.raises(OSError) as raised:
            apply_layer(io.BytesIO(tar_bytes(*members)), target)
        assert raised.value.errno == errno.ENOSPC
        assert not isinstance(raised.value, InvalidArchive)  # once "invalid tar header"
    finally:
        subprocess.run(["umount", str(small)], check=True)
