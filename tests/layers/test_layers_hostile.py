"""Every archive is hostile: crafted layers are refused with a message naming the
entry, and nothing outside the target directory is ever created or changed."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import stat
import tarfile
from pathlib import Path

import pytest
import zstandard

from dockyard.errors import InvalidArchive
from dockyard.layers.apply import apply_layer
from dockyard.layers.compression import open_decompressed
from dockyard.layers.limits import DEFAULT_LIMITS, Limits
from tests.layers.support import member, raw_header, raw_tar, sandbox_state, tar_bytes

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="devices and owners need root")

EVIL = "dockyard-evil"


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """tmp/sandbox/{target/, sentinel/secret, outside}: only target may change."""
    box = tmp_path / "sandbox"
    (box / "target").mkdir(parents=True)
    (box / "sentinel").mkdir()
    (box / "sentinel/secret").write_text("secret")
    (box / "outside").write_text("outside")
    return box


def host_state() -> tuple:
    passwd = os.stat("/etc/passwd")
    return (
        os.path.lexists("/" + EVIL),
        os.path.lexists("/abs"),
        os.path.lexists("/etc/" + EVIL),
        passwd.st_nlink,
        passwd.st_mtime_ns,
        passwd.st_mode,
    )


def apply_in(sandbox: Path, data: bytes, limits: Limits = DEFAULT_LIMITS):
    return apply_layer(io.BytesIO(data), sandbox / "target", limits=limits)


def refused(sandbox: Path, data: bytes, *names: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """Applying ``data`` fails naming ``names``, and only the target changed."""
    before, host = sandbox_state(sandbox), host_state()
    with pytest.raises(InvalidArchive) as caught:
        apply_in(sandbox, data, limits)
    message = str(caught.value)
    for name in names:
        assert name in message, message
    assert "\n" not in message
    assert sandbox_state(sandbox) == before
    assert host_state() == host
    assert not os.path.lexists(sandbox.parent / EVIL)
    return message


def accepted(sandbox: Path, data: bytes) -> Path:
    before, host = sandbox_state(sandbox), host_state()
    apply_in(sandbox, data)
    assert sandbox_state(sandbox) == before
    assert host_state() == host
    return sandbox / "target"


def symlink(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    return member(name, tarfile.SYMTYPE, link=target), None


def hardlink(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    return member(name, tarfile.LNKTYPE, link=target), None


def directory(name: str) -> tuple[tarfile.TarInfo, None]:
    return member(name, tarfile.DIRTYPE, mode=0o755), None


def test_parent_component(sandbox: Path) -> None:
    message = refused(sandbox, tar_bytes((member(f"../{EVIL}"), b"x")), f"../{EVIL}")
    assert ".." in message


def test_absolute_name(sandbox: Path) -> None:
    data = raw_tar(raw_header(f"/abs/{EVIL}".encode(), size=1), b"x")
    refused(sandbox, data, f"/abs/{EVIL}", "absolute")


def test_dot_dot_in_the_middle(sandbox: Path) -> None:
    refused(sandbox, tar_bytes((member(f"a/../../{EVIL}"), b"x")), f"a/../../{EVIL}")


def test_write_through_symlink_to_root(sandbox: Path) -> None:
    data = tar_bytes(symlink("link", "/"), (member(f"link/{EVIL}"), b"x"))
    message = refused(sandbox, data, f"link/{EVIL}")
    assert "symlink" in message


def test_write_through_symlink_to_parent(sandbox: Path) -> None:
    data = tar_bytes(symlink("link", ".."), (member(f"link/{EVIL}"), b"x"))
    refused(sandbox, data, f"link/{EVIL}", "symlink")


def test_write_through_a_chain_of_symlinks(sandbox: Path) -> None:
    data = tar_bytes(symlink("a", "b"), symlink("b", "../sentinel"), (member(f"a/{EVIL}"), b"x"))
    refused(sandbox, data, f"a/{EVIL}")


def test_write_through_absolute_symlink_to_etc(sandbox: Path) -> None:
    data = tar_bytes(directory("etc-real/"), symlink("etc", "/etc"), (member(f"etc/{EVIL}"), b"x"))
    refused(sandbox, data, f"etc/{EVIL}")


def test_hardlink_to_parent_directory_file(sandbox: Path) -> None:
    refused(sandbox, tar_bytes(hardlink("h", "../outside")), "'h'", "../outside")


def test_hardlink_to_absolute_host_file(sandbox: Path) -> None:
    refused(sandbox, tar_bytes(hardlink("h", "/etc/passwd")), "'h'", "/etc/passwd")


def test_hardlink_through_symlinked_directory(sandbox: Path) -> None:
    data = tar_bytes(symlink("sl", "../sentinel"), hardlink("h", "sl/secret"))
    refused(sandbox, data, "'h'", "sl/secret")
    assert os.stat(sandbox / "sentinel/secret").st_nlink == 1


def test_hardlink_to_a_directory(sandbox: Path) -> None:
    refused(sandbox, tar_bytes(directory("d/"), hardlink("h", "d")), "'h'", "directory")


def test_hardlink_to_a_missing_target(sandbox: Path) -> None:
    refused(sandbox, tar_bytes(hardlink("h", "nowhere")), "'h'", "nowhere")


def test_whiteout_of_dot_dot(sandbox: Path) -> None:
    refused(sandbox, tar_bytes((member(".wh..."), b"")), ".wh...")


def test_whiteout_in_parent_directory(sandbox: Path) -> None:
    refused(sandbox, tar_bytes((member("../.wh.outside"), b"")), "../.wh.outside")
    assert (sandbox / "outside").read_text() == "outside"


def test_whiteout_through_symlink(sandbox: Path) -> None:
    data = tar_bytes(symlink("link", "../sentinel"), (member("link/.wh.secret"), b""))
    refused(sandbox, data, "link/.wh.secret")


def test_opaque_marker_through_symlink(sandbox: Path) -> None:
    data = tar_bytes(symlink("link", "../sentinel"), (member("link/.wh..wh..opq"), b""))
    refused(sandbox, data, "link/.wh..wh..opq")
    assert os.listxattr(sandbox / "sentinel") == []


def test_directory_replaced_by_symlink_then_written_through(sandbox: Path) -> None:
    data = tar_bytes(
        directory("d/"),
        (member("d/inside"), b"fine"),
        symlink("d", "../sentinel"),
        (member(f"d/{EVIL}"), b"x"),
    )
    refused(sandbox, data, f"d/{EVIL}")


def test_device_node_outside(sandbox: Path) -> None:
    node = member(f"../{EVIL}", tarfile.CHRTYPE, mode=0o666)
    node.devmajor, node.devminor = 1, 3
    refused(sandbox, tar_bytes((node, None)), f"../{EVIL}")


def test_name_of_64_kib(sandbox: Path) -> None:
    name = "n/" * 32767 + "x"
    message = refused(sandbox, tar_bytes((member(name), b"x")), name[:150], "4096")
    assert len(message) < 1000


def test_symlink_target_over_the_name_limit(sandbox: Path) -> None:
    limits = Limits(max_name=100)
    data = tar_bytes(symlink("long", "t" * 200))
    before = sandbox_state(sandbox)
    with pytest.raises(InvalidArchive, match="'long'"):
        apply_in(sandbox, data, limits)
    assert sandbox_state(sandbox) == before


def test_entry_count_bomb(sandbox: Path) -> None:
    data = tar_bytes(*[(member(f"f{index}"), b"") for index in range(60)])
    refused(sandbox, data, "f50", "more than 50 entries", limits=Limits(max_entries=50))


def test_declared_sizes_over_the_limit(sandbox: Path) -> None:
    data = tar_bytes((member("one"), bytes(3000)), (member("two"), bytes(3000)))
    refused(sandbox, data, "two", "4096", limits=Limits(max_bytes=4096))


def test_gzip_bomb(sandbox: Path) -> None:
    files = [(member(f"zeros{index}"), bytes(1 << 20)) for index in range(40)]
    blob = gzip.compress(tar_bytes(*files), 9)
    assert len(blob) < 100_000
    message = refused(sandbox, blob, "exceeds the limit of 8388608 bytes", limits=Limits(8 << 20))
    assert "zeros" in message


def test_zstd_bomb(sandbox: Path) -> None:
    files = [(member(f"zeros{index}"), bytes(1 << 20)) for index in range(40)]
    blob = zstandard.ZstdCompressor(level=19).compress(tar_bytes(*files))
    assert len(blob) < 100_000
    message = refused(sandbox, blob, "exceeds the limit of 8388608 bytes", limits=Limits(8 << 20))
    assert "zeros" in message


def test_decompression_guard_counts_output_not_input() -> None:
    blob = gzip.compress(bytes(5 << 20))
    with pytest.raises(InvalidArchive, match="exceeds the limit of 1048576 bytes"):
        open_decompressed(io.BytesIO(blob), max_output=1 << 20).read()
    assert len(open_decompressed(io.BytesIO(blob), max_output=5 << 20).read()) == 5 << 20


def test_truncated_archive(sandbox: Path) -> None:
    data = tar_bytes((member("first"), b"ok"), (member("victim"), os.urandom(10_000)))
    message = refused(sandbox, data[:4000], "victim")
    assert message.startswith("Error processing tar file(exit status 1): unexpected EOF")


def test_truncated_gzip(sandbox: Path) -> None:
    blob = gzip.compress(tar_bytes((member("victim"), os.urandom(100_000))))
    refused(sandbox, blob[: len(blob) // 2], "truncated")


def test_garbage_bytes(sandbox: Path) -> None:
    garbage = random.Random(7).randbytes(20_000)
    message = refused(sandbox, garbage)
    assert message == "Error processing tar file(exit status 1): archive/tar: invalid tar header"


def test_text_shorter_than_a_header(sandbox: Path) -> None:
    """Docker's words for `import notatar.txt`."""
    message = refused(sandbox, b"this is not a tar archive\n")
    assert message == "Error processing tar file(exit status 1): unexpected EOF"


def test_pax_header_that_lies_about_the_size(sandbox: Path) -> None:
    record = b"16 size=9999999\n"
    pax = raw_header(b"PaxHeader/liar", size=len(record), kind=b"x")
    data = raw_tar(pax, record, raw_header(b"liar", size=5), b"hello")
    message = refused(sandbox, data, "liar")
    assert "unexpected EOF" in message


def test_non_utf8_names_are_kept_as_bytes(sandbox: Path) -> None:
    data = raw_tar(
        raw_header(b"caf\xe9", size=4),
        b"data",
        raw_header(b"dir-\xff/", kind=b"5"),
        raw_header(b"dir-\xff/link", kind=b"2", link=b"../caf\xe9"),
    )
    target = accepted(sandbox, data)
    assert sorted(os.listdir(os.fsencode(target))) == [b"caf\xe9", b"dir-\xff"]
    assert open(os.fsencode(target) + b"/dir-\xff/link", "rb").read() == b"data"


def test_duplicate_dir_file_dir_stays_confined(sandbox: Path) -> None:
    data = tar_bytes(
        directory("d/"),
        (member("d/old"), b"old"),
        (member("d"), b"now a file"),
        directory("d/"),
        (member("d/new"), b"new"),
        symlink("e", "../sentinel"),
        directory("e/"),  # replaces the symlink, never follows it
        (member("e/inside"), b"inside"),
        symlink("s", "../sentinel/secret"),
        (member("s"), b"replaces the link"),  # must not write through it
    )
    target = accepted(sandbox, data)
    assert os.listdir(target / "d") == ["new"]
    assert not (target / "e").is_symlink() and (target / "e/inside").read_bytes() == b"inside"
    assert stat.S_ISREG(os.lstat(target / "s").st_mode)
    assert (sandbox / "sentinel/secret").read_text() == "secret"


def test_symlinks_pointing_out_may_exist(sandbox: Path) -> None:
    data = tar_bytes(symlink("root", "/"), symlink("up", "../../.."), symlink("abs", "/etc/passwd"))
    target = accepted(sandbox, data)
    assert os.readlink(target / "root") == "/"
    assert os.readlink(target / "up") == "../../.."


def test_owner_out_of_range(sandbox: Path) -> None:
    owner = member("owned")
    owner.pax_headers = {"uid": str(2**40)}
    refused(sandbox, tar_bytes((owner, b"x")), "'owned'", "owner")


def test_far_off_times_are_clamped(sandbox: Path) -> None:
    future = member("future")
    future.pax_headers = {"mtime": str(10**15)}
    past = member("past")
    past.pax_headers = {"mtime": str(-(10**15))}
    target = accepted(sandbox, tar_bytes((future, b"f"), (past, b"p")))
    # Clamped to 2**34 s, then to what the filesystem stores (ext4: 2446, 1901).
    assert os.stat(target / "future").st_mtime > 10**10
    assert os.stat(target / "past").st_mtime < -(10**9)


def test_root_entry_that_is_not_a_directory(sandbox: Path) -> None:
    refused(sandbox, tar_bytes(symlink("./", "/etc")), "root")
    refused(sandbox, tar_bytes((member("."), b"file")), "root")


def test_component_longer_than_the_filesystem_allows(sandbox: Path) -> None:
    name = "d/" + "c" * 300
    refused(sandbox, tar_bytes((member(name), b"x")), name[:100])


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "gzip"])
def test_store_refuses_a_blob_that_does_not_match_its_digest(
    tmp_path: Path, compress: bool
) -> None:
    # The blob digest is computed while teeing (not by the blob writer): a lying
    # descriptor is still refused and leaves neither blob nor layer behind.
    from dockyard.digest import Digest
    from dockyard.store.store import Store

    tar = tar_bytes((member("file"), b"content"))
    blob = gzip.compress(tar) if compress else tar
    right = Digest("sha256", hashlib.sha256(blob).hexdigest())
    wrong = Digest("sha256", hashlib.sha256(b"other").hexdigest())
    store = Store.open(tmp_path / "store")
    try:
        with pytest.raises(InvalidArchive, match="digest mismatch"):
            store.add_layer_from_tar(io.BytesIO(blob), None, expected_blob=wrong)
        diff_id = Digest("sha256", hashlib.sha256(tar).hexdigest())
        assert store.layer(diff_id) is None
        assert not store.blobs.exists(right) and not store.blobs.exists(wrong)
        assert list((tmp_path / "store").rglob("blob-*")) == []

        record = store.add_layer_from_tar(io.BytesIO(blob), None, expected_blob=right)
        assert record.blob == right and record.diff_id == diff_id
        with store.open_layer_blob(record) as kept:  # the blob, or the tar from its tar-split
            assert kept.read() == blob
        assert (record.dir / "file").read_bytes() == b"content"
    finally:
        store.close()


def test_overlay_xattrs_on_files_and_symlinks_are_dropped(sandbox: Path) -> None:
    steer = {
        "SCHILY.xattr.trusted.overlay.redirect": "/sentinel",
        "SCHILY.xattr.user.overlay.origin": "x",
        "SCHILY.xattr.user.kept": "yes",
    }
    file = member("file")
    file.pax_headers = dict(steer)
    link = member("link", tarfile.SYMTYPE, link="file")
    link.pax_headers = {"SCHILY.xattr.trusted.overlay.opaque": "y"}
    target = accepted(sandbox, tar_bytes((file, b"data"), (link, None)))
    assert os.listxattr(target / "file") == ["user.kept"]
    assert os.listxattr(target / "link", follow_symlinks=False) == []


def test_one_entry_of_a_huge_declared_size(sandbox: Path) -> None:
    huge = member("huge")
    huge.pax_headers = {"size": str(10**15)}
    data = raw_tar(raw_header(b"small", size=1), b"x")[:1024] + tar_bytes((huge, b""))
    refused(sandbox, data, "'huge'", "exceeds the limit")


def test_file_replaced_by_a_symlink_then_written_below(sandbox: Path) -> None:
    data = tar_bytes(
        (member("f"), b"plain"),
        symlink("f", "../sentinel"),
        (member(f"f/{EVIL}"), b"x"),
    )
    refused(sandbox, data, f"f/{EVIL}", "symlink")


def test_symlink_replaced_by_a_file_is_not_written_through(sandbox: Path) -> None:
    data = tar_bytes(symlink("s", "../sentinel/secret"), (member("s", mode=0o600), b"new"))
    target = accepted(sandbox, data)
    assert (target / "s").read_bytes() == b"new" and not (target / "s").is_symlink()


class _FailingStream(io.RawIOBase):
    """Serves ``data`` then fails the way a dropped connection does."""

    def __init__(self, data: bytes, after: int) -> None:
        self._data = memoryview(data)[:after]
        self.reads_after_failure = 0
        self.failed = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self.failed:
            self.reads_after_failure += 1
        if not self._data:
            self.failed = True
            raise ConnectionResetError("connection reset by peer")
        n = min(len(buffer), len(self._data), 64 * 1024)
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_a_failing_stream_fails_the_apply_with_its_own_error(sandbox: Path) -> None:
    import threading

    files = [(member(f"file{index}"), os.urandom(100_000)) for index in range(40)]
    data = tar_bytes(*files)
    stream = _FailingStream(data, len(data) // 2)
    tee = io.BytesIO()
    threads = threading.active_count()
    with pytest.raises(ConnectionResetError):
        apply_layer(stream, sandbox / "target", tee=tee)  # type: ignore[arg-type]
    # The reading thread is gone: nothing reads the stream or writes the tee now.
    assert threading.active_count() == threads
    assert stream.reads_after_failure == 0
    assert tee.getvalue() == data[: len(data) // 2]


def test_a_refused_entry_stops_the_reading_thread(sandbox: Path) -> None:
    import threading

    files = [(member(f"file{index}"), os.urandom(200_000)) for index in range(40)]
    data = tar_bytes((member(f"../{EVIL}"), b"x"), *files)
    tee = io.BytesIO()
    threads = threading.active_count()
    with pytest.raises(InvalidArchive, match=r"\.\./"):
        apply_layer(io.BytesIO(data), sandbox / "target", tee=tee)
    assert threading.active_count() == threads
    teed = len(tee.getvalue())
    assert teed < len(data)  # it stopped early, and stays stopped
    assert len(tee.getvalue()) == teed
