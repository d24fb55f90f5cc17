"""`cp` with `-`: a tar of a container path on stdout, a tar on stdin extracted into a
container directory (real CLI, real runtime, real overlay)."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.support import (
    NEEDS_RUNTIME,
    busybox_store,
    dockyard_mounts,
    dy,
)

pytestmark = NEEDS_RUNTIME


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Iterator[Path]:
    yield from busybox_store(tmp_path_factory, busybox_tar, "cpstream")


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {member.name: member for member in tar.getmembers()}


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _info(name: str, kind: bytes = tarfile.REGTYPE, **values) -> tarfile.TarInfo:  # type: ignore[no-untyped-def]
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 1_600_000_000
    for key, value in values.items():
        setattr(info, key, value)
    return info


@pytest.fixture(scope="module")
def source(root: Path) -> str:
    script = (
        "mkdir -p /data/sub && echo hi > /data/sub/f && ln /data/sub/f /data/hard"
        " && ln -s /etc /data/etclink && chown 7:8 /data/sub/f && chmod 640 /data/sub/f"
    )
    dy(root, "run", "--name", "cpsrc", "busybox", "sh", "-c", script)
    return "cpsrc"


@pytest.mark.parametrize("running", [False, True])
def test_cp_to_stdout_is_a_tar_named_by_the_basename(
    root: Path, source: str, running: bool
) -> None:
    if running:
        dy(
            root,
            "run",
            "-d",
            "--name",
            "cprun",
            "busybox",
            "sh",
            "-c",
            "echo live > /live; sleep 60",
        )
        members = _members(dy(root, "cp", "cprun:/live", "-").stdout)
        assert list(members) == ["live"]
        dy(root, "rm", "-f", "cprun")
        return
    data = dy(root, "cp", f"{source}:/data", "-").stdout
    members = _members(data)
    assert sorted(members) == ["data", "data/etclink", "data/hard", "data/sub", "data/sub/f"]
    assert members["data/etclink"].issym() and members["data/etclink"].linkname == "/etc"
    hard, f = members["data/hard"], members["data/sub/f"]
    assert {hard.islnk(), f.islnk()} == {True, False}  # one file, one link to it
    regular = f if f.isreg() else hard
    assert (regular.uid, regular.gid, regular.mode & 0o777) == (7, 8, 0o640)
    assert regular.uname == regular.gname == ""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        extracted = tar.extractfile(regular.name)
        assert extracted is not None and extracted.read() == b"hi\n"
    # a path ending in /. gives the directory's content under "."
    assert sorted(_members(dy(root, "cp", f"{source}:/data/.", "-").stdout)) == [
        ".",
        "./etclink",
        "./hard",
        "./sub",
        "./sub/f",
    ]
    # a symlink is archived as a link; -L follows it (inside the container)
    assert _members(dy(root, "cp", f"{source}:/data/etclink", "-").stdout)["etclink"].issym()
    followed = _members(dy(root, "cp", "-L", f"{source}:/data/etclink", "-").stdout)
    assert followed["etclink"].isdir() and "etclink/passwd" in followed
    err = dy(root, "cp", f"{source}:/nothing", "-", code=1).stderr.decode()
    assert (
        err
        == f"Error response from daemon: Could not find the file /nothing in container {source}\n"
    )
    assert dockyard_mounts(root) == []


@pytest.mark.parametrize("compression", ["", "gz", "xz"])
def test_cp_from_stdin_extracts_into_a_directory(root: Path, compression: str) -> None:
    name = f"cpdst{compression}"
    script = "stat -c '%n %u:%g %a %h' /in/d /in/d/f /in/hard; cat /in/d/f /in/link"
    dy(root, "create", "--name", name, "busybox", "sh", "-c", script)
    archive = _tar(
        [
            (_info(".", tarfile.DIRTYPE), None),
            (_info("d", tarfile.DIRTYPE, mode=0o750), None),
            (_info("d/f", uid=5, gid=6, mode=0o600), b"content\n"),
            (_info("link", tarfile.SYMTYPE, linkname="d/f"), None),
            (_info("hard", tarfile.LNKTYPE, linkname="d/f"), None),
        ],
        mode=f"w:{compression}" if compression else "w",
    )
    dy(root, "cp", "-", f"{name}:/", stdin=_tar([(_info("in", tarfile.DIRTYPE), None)]))
    dy(root, "cp", "-", f"{name}:/in", stdin=archive)
    out = dy(root, "start", "-a", name).stdout.decode()
    # owned by the container's root without -a, as Docker does; modes and the hard link kept
    assert out == ("/in/d 0:0 750 2\n/in/d/f 0:0 600 2\n/in/hard 0:0 600 2\ncontent\ncontent\n")
    dy(root, "cp", "-a", "-", f"{name}:/in", stdin=archive)
    out = dy(root, "start", "-a", name).stdout.decode()
    assert out.splitlines()[1:3] == ["/in/d/f 5:6 600 2", "/in/hard 5:6 600 2"]
    changes = dy(root, "diff", name).stdout.decode().splitlines()
    assert {"A /in", "A /in/d", "A /in/d/f", "A /in/link", "A /in/hard"} <= set(changes)
    dy(root, "rm", name)
    assert dockyard_mounts(root) == []


def test_cp_from_stdin_stays_inside_the_container(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    # the container has a symlink to a host-looking absolute path, and one that climbs
    script = f"mkdir -p /dst {outside} && ln -s {outside} /dst/abs && ln -s ../../../../.. /dst/up"
    dy(root, "run", "--name", "cpsafe", "busybox", "sh", "-c", script)
    archive = _tar(
        [
            (_info("abs/escaped"), b"x"),  # through the absolute symlink: stays in the container
            (_info("up/climbed"), b"y"),  # through the climbing one: the container's root
        ]
    )
    dy(root, "cp", "-", "cpsafe:/dst", stdin=archive)
    assert os.listdir(outside) == []
    changes = set(dy(root, "diff", "cpsafe").stdout.decode().splitlines())
    assert f"A {outside}/escaped" in changes and "A /climbed" in changes
    # an archive entry with .. is refused, so is a file over a directory
    bad = _tar([(_info("../../etc/evil"), b"z")])
    err = dy(root, "cp", "-", "cpsafe:/dst", stdin=bad, code=1).stderr.decode()
    assert "outside of the destination" in err
    clash = _tar([(_info("dst"), b"file over a directory")])
    err = dy(root, "cp", "-", "cpsafe:/", stdin=clash, code=1).stderr.decode()
    assert "cannot overwrite directory '/dst' with non-directory 'dst'" in err
    err = dy(root, "cp", "-", "cpsafe:/dst/abs/none", stdin=archive, code=1).stderr.decode()
    assert "Could not find the file /dst/abs/none in container cpsafe" in err
    dy(root, "cp", "-", "cpsafe:/dst/abs/escaped", stdin=archive, code=1)
    err = dy(
        root, "cp", "-", "cpsafe:/dst", stdin=b"not a tar at all" * 100, code=1
    ).stderr.decode()
    assert "invalid tar archive" in err
    dy(root, "rm", "cpsafe")
    assert dockyard_mounts(root) == []
