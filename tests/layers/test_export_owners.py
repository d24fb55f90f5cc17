"""`export` writes user and group names as Docker 20.10 does: looked up in the
container's own /etc/passwd and /etc/group (parsed as glibc's nss_files does),
long or non-ASCII names as pax records with Go's ASCII cut in the ustar field,
symlinks resolved inside the container's root, and layer tars unchanged."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.layers import tarformat as tf
from dockyard.layers.create import create_layer, write_tree
from dockyard.layers.owners import OwnerNames, parse_id_names, read_in_tree

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")

# Lines as in the recording against Docker 20.10 (glibc build of dockerd).
PASSWD = b"\n".join(
    [
        b"root:x:0:0:root:/root:/bin/sh",
        b"# comment:x:1000:1000::/:/bin/sh",
        b"a234567890123456789012345678901234567890:x:1001:1001::/:/bin/sh",
        "jösé:x:1002:1002::/:/bin/sh".encode(),
        b"b2345678901234567890123456789012:x:1003:1003::/:/bin/sh",
        b"five:x:1004:1004::/",
        b"second1004:x:1004:1004::/:/bin/sh",
        b"+plus:x:1005:1005::/:/bin/sh",
        b"badgid:x:1006:zz::/:/bin/sh",
        b"ok1006:x:1006:1006::/:/bin/sh",
        b"   spaced:x:1007:1007::/:/bin/sh   ",
        b"zero:x:01008:1008::/:/bin/sh",
        b"first1009:x:1009:1009::/:/bin/sh",
        b"second1009:x:1009:1009::/:/bin/sh",
        b"\xff\xfebad:x:1010:1010::/:/bin/sh",
        b"nul\x00name:x:1011:1011::/:/bin/sh",
        b"crlf:x:1012:1012::/:/bin/sh\r",
        b"minus:x:1016:-5::/:/bin/sh",
        b"plusuid:x:+1018:1018::/:/bin/sh",
        b"spuid:x: 1019:1019::/:/bin/sh",
        b"ws:x:1020 :1020::/:/bin/sh",
        b"emptygid:x:1022:::/:/bin/sh",
        b"last:x:1017:1017::/:/bin/sh",
    ]
)
GROUP = b"\n".join(
    [
        b"wheel:x:0:",
        b"g234567890123456789012345678901234567890:x:2001:",
        "grüppe:x:2002:a,b".encode(),
        b"two:x:2003",
        b"ok2003:x:2003:",
        b"-minus:x:2004:",
        b"ok2004:*:2004:root,x",
        b"zero:x:02005:",
    ]
)


def test_passwd_lines_are_read_as_glibc_reads_them() -> None:
    users = parse_id_names(PASSWD, fields=4)
    assert users[0] == b"root"
    assert 1000 not in users  # a comment
    assert users[1004] == b"five"  # missing trailing fields are empty
    assert 1005 not in users  # nss_compat "+name"
    assert users[1006] == b"ok1006"  # a non-numeric gid skips the line
    assert users[1007] == b"spaced"
    assert users[1008] == b"zero"  # leading zeros
    assert users[1009] == b"first1009"  # the first line wins
    assert users[1010] == b"\xff\xfebad"
    assert 1011 not in users  # the line ends at the NUL: "nul" alone
    assert users[1012] == b"crlf"
    assert 1016 not in users  # a negative gid
    assert users[1018] == b"plusuid" and users[1019] == b"spuid"  # strtoul's "+" and spaces
    assert 1020 not in users and 1022 not in users  # a trailing space, an empty gid
    assert users[1017] == b"last"


def test_group_lines_are_read_as_glibc_reads_them() -> None:
    groups = parse_id_names(GROUP, fields=3)
    assert groups[0] == b"wheel"
    assert groups[2002] == "grüppe".encode()
    assert groups[2003] == b"two"  # no members field at all
    assert groups[2004] == b"ok2004"  # "-name" never matches
    assert groups[2005] == b"zero"


def test_unknown_ids_have_empty_names_but_the_hosts_fallbacks() -> None:
    names = OwnerNames(users={5: b"five"}, groups={0: b"wheel"}, current=(0, b"root"))
    assert (names.user(5), names.user(6), names.group(6)) == (b"five", b"", b"")
    assert names.group(0) == b"wheel"  # the files first
    assert names.user(65534) == b"nobody" and names.group(65534) == b"nogroup"  # nss-systemd
    assert OwnerNames(users={0: b"toor"}, current=(0, b"root")).user(0) == b"root"  # Go's Current()
    assert OwnerNames(current=None).user(0) == b"root"


def _headers(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), errors="surrogateescape") as archive:
        return {member.name: member for member in archive.getmembers()}


def _raw_blocks(data: bytes) -> dict[bytes, bytes]:
    """name -> the ustar block of each member (pax headers skipped)."""
    blocks, position = {}, 0
    while data[position : position + 512] != b"\0" * 512:
        block = data[position : position + 512]
        size = int(block[124:136].rstrip(b"\0 ") or b"0", 8)
        if block[156:157] != tf.PAX:
            blocks[block[:100].rstrip(b"\0")] = block
        position += 512 + -(-size // 512) * 512
    return blocks


def test_long_and_non_ascii_names_go_through_pax_as_go_writes_them() -> None:
    long = b"a234567890123456789012345678901234567890"
    header = tf.encode_header(b"f", tf.REGULAR, 0o644, 1, 2, 0, uname=long, gname="grüppe".encode())
    member = _headers(header + tf.END_OF_ARCHIVE)["f"]
    assert (member.uname, member.gname) == (long.decode(), "grüppe")
    assert member.pax_headers == {"uname": long.decode(), "gname": "grüppe"}
    block = _raw_blocks(header + tf.END_OF_ARCHIVE)[b"f"]
    assert block[265:297] == long[:32]  # the ustar field: the name cut to 32
    assert block[297:329] == b"grppe".ljust(32, b"\0")  # Go's toASCII
    exactly = b"b2345678901234567890123456789012"
    fits = tf.encode_header(b"f", tf.REGULAR, 0o644, 1, 2, 0, uname=exactly, gname=b"g")
    assert len(fits) == 512 and fits[265:297] == exactly  # 32 bytes fit, without a NUL
    binary = tf.encode_header(b"f", tf.REGULAR, 0o644, 1, 2, 0, uname=b"\xff\xfebad")
    assert b" uname=\xff\xfebad\n" in binary and b"hdrcharset" not in binary
    assert _raw_blocks(binary + tf.END_OF_ARCHIVE)[b"f"][265:297] == b"bad".ljust(32, b"\0")
    with pytest.raises(ValueError):
        tf.encode_header(b"f", tf.REGULAR, 0o644, 1, 2, 0, uname=b"a\0b")


def test_no_names_give_the_same_bytes_as_before() -> None:
    for options in ({}, {"xattrs": [(b"user.a", b"b")]}, {"size": 8**12}):
        assert tf.encode_header(b"f", tf.REGULAR, 0o644, 1, 2, 0, **options) == tf.encode_header(
            b"f", tf.REGULAR, 0o644, 1, 2, 0, uname=b"", gname=b"", **options
        )


def _container(root: Path, passwd: bytes | None = PASSWD, group: bytes | None = GROUP) -> Path:
    (root / "etc").mkdir(parents=True)
    if passwd is not None:
        (root / "etc/passwd").write_bytes(passwd)
    if group is not None:
        (root / "etc/group").write_bytes(group)
    for uid, gid in ((0, 0), (1001, 2002), (1002, 2003), (1009, 2004), (4242, 4343)):
        path = root / f"f{uid}"
        path.write_text("x")
        os.chown(path, uid, gid)
    os.link(root / "f1001", root / "hardlink")
    return root


@root_only
def test_export_headers_carry_the_containers_names(tmp_path: Path) -> None:
    tree = _container(tmp_path / "tree")
    out = io.BytesIO()
    write_tree(tree, out, owner_names=True)
    members = _headers(out.getvalue())
    owners = {name: (m.uname, m.gname) for name, m in members.items()}
    assert owners["f0"] == ("root", "wheel")
    assert owners["f1001"] == ("a234567890123456789012345678901234567890", "grüppe")
    assert owners["f1002"] == ("jösé", "two")
    assert owners["f1009"] == ("first1009", "ok2004")
    assert owners["f4242"] == ("", "")  # ids the container's files do not define
    assert owners["hardlink"] == owners["f1001"]
    assert members["f1002"].pax_headers == {"uname": "jösé"}


@root_only
def test_create_layer_and_plain_write_tree_keep_numeric_owners(tmp_path: Path) -> None:
    tree = _container(tmp_path / "tree")
    layer = io.BytesIO()
    create_layer(tree, layer)
    plain = io.BytesIO()
    write_tree(tree, plain)
    assert plain.getvalue() == layer.getvalue()
    assert all(m.uname == m.gname == "" for m in _headers(layer.getvalue()).values())
    named = io.BytesIO()
    write_tree(tree, named, owner_names=True)
    assert named.getvalue() != layer.getvalue()


@root_only
def test_a_stack_of_layers_reads_the_merged_files(tmp_path: Path) -> None:
    bottom = _container(tmp_path / "bottom")
    top = tmp_path / "top"
    (top / "etc").mkdir(parents=True)
    (top / "etc/passwd").write_bytes(b"root:x:0:0::/:/bin/sh\nnewname:x:1001:0::/:/bin/sh\n")
    os.mknod(top / "etc/group", stat.S_IFCHR | 0o600, 0)  # a whiteout: no group file
    out = io.BytesIO()
    write_tree([top, bottom], out, owner_names=True)
    owners = {name: (m.uname, m.gname) for name, m in _headers(out.getvalue()).items()}
    assert owners["f1001"] == ("newname", "")
    assert owners["f1002"] == ("", "")


def test_symlinks_resolve_inside_the_container(tmp_path: Path) -> None:
    outside = tmp_path / "host-passwd"
    outside.write_bytes(b"host:x:1001:0::/:/bin/sh\n")
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "real").mkdir()
    (tree / "real/passwd").write_bytes(b"alice:x:1000:0::/:/bin/sh\n")
    os.symlink("/real/passwd", tree / "etc/passwd")
    assert read_in_tree([os.fsencode(tree)], b"etc/passwd", merge=False) == (
        b"alice:x:1000:0::/:/bin/sh\n"
    )
    # ".." past the root stays at the root, as in a chroot: the host's file is never read
    os.remove(tree / "etc/passwd")
    os.symlink("../../../../../../" + str(outside).lstrip("/"), tree / "etc/passwd")
    assert read_in_tree([os.fsencode(tree)], b"etc/passwd", merge=False) is None
    os.remove(tree / "etc/passwd")
    os.symlink(str(outside), tree / "etc/passwd")  # absolute: inside the container
    assert read_in_tree([os.fsencode(tree)], b"etc/passwd", merge=False) is None
    os.remove(tree / "etc/passwd")
    os.symlink("passwd", tree / "etc/passwd")  # a loop
    assert read_in_tree([os.fsencode(tree)], b"etc/passwd", merge=False) is None
    os.remove(tree / "etc/passwd")
    os.symlink(str(tmp_path), tree / "etc-link")  # a directory symlink out of the tree
    assert read_in_tree([os.fsencode(tree)], b"etc-link/host-passwd", merge=False) is None


def test_large_and_special_files_are_not_read(tmp_path: Path) -> None:
    from dockyard.layers import owners

    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    with open(tree / "etc/passwd", "wb") as handle:
        handle.truncate(owners.MAX_FILE_SIZE + 1)
    assert read_in_tree([os.fsencode(tree)], b"etc/passwd", merge=False) is None
    os.remove(tree / "etc/passwd")
    os.mkfifo(tree / "etc/passwd")  # never blocks on a pipe
    assert read_in_tree([os.fsencode(tree)], b"etc/passwd", merge=False) is None
    os.remove(tree / "etc/passwd")
    assert read_in_tree([os.fsencode(tree)], b"etc/passwd", merge=False) is None
