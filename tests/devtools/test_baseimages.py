"""Offline base images: busybox built from busybox-static, debian from debootstrap."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from dockyard.devtools import baseimages
from dockyard.devtools.baseimages import (
    BASE_IMAGES,
    BUSYBOX_EPOCH,
    BaseImageError,
    MirrorUnreachable,
    ensure_base_image,
    find_debian_mirror,
    import_command,
    release_epoch,
    tarball_path,
)

is_root = os.geteuid() == 0


def _have_busybox() -> bool:
    try:
        baseimages.find_busybox()
    except BaseImageError:
        return False
    return True


needs_busybox = pytest.mark.skipif(
    not _have_busybox(), reason="no static busybox here (apt-get install busybox-static)"
)


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _have_busybox():
        pytest.skip("no static busybox here (apt-get install busybox-static)")
    return ensure_base_image("busybox", tmp_path_factory.mktemp("cache-a"))


def _members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as tar:
        return {member.name: member for member in tar.getmembers()}


def _names_in_order(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


# --------------------------------------------------------------------------
# busybox


def test_busybox_tarball_contents(busybox_tar: Path) -> None:
    assert busybox_tar.name == "busybox.tar"
    members = _members(busybox_tar)
    busybox = members["bin/busybox"]
    assert busybox.isfile() and busybox.mode == 0o755
    assert busybox.size == os.path.getsize(baseimages.find_busybox())
    sh = members["bin/sh"]
    assert sh.issym() and sh.linkname == "busybox"
    assert members["usr/bin/env"].linkname == "../../bin/busybox"
    assert members["sbin/ip"].linkname == "../bin/busybox"
    with tarfile.open(busybox_tar) as tar:
        passwd = tar.extractfile("etc/passwd").read().decode()  # type: ignore[union-attr]
        shadow = tar.extractfile("etc/shadow").read().decode()  # type: ignore[union-attr]
        group = tar.extractfile("etc/group").read().decode()  # type: ignore[union-attr]
    assert passwd.startswith("root:x:0:0:root:/root:/bin/sh\n")
    users = [line.split(":")[0] for line in passwd.splitlines()]
    assert users == [
        "root",
        "daemon",
        "bin",
        "sys",
        "sync",
        "mail",
        "www-data",
        "operator",
        "nobody",
    ]
    assert shadow.startswith("root:*:")  # no empty root password (CVE-2019-5021)
    assert "nogroup:x:65534:" in group
    assert members["etc/shadow"].mode == 0o600
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    assert members["root"].mode == 0o700
    for directory in ("dev", "home", "usr/sbin", "var/spool/mail", "var/www"):
        assert members[directory].isdir(), directory
    assert "linuxrc" not in members
    # Every applet of the binary is there, as a symlink.
    applets = baseimages.busybox_applets(baseimages.find_busybox())
    assert all(members[applet].issym() for applet in applets)


def test_busybox_tarball_is_canonical(busybox_tar: Path) -> None:
    names = _names_in_order(busybox_tar)
    # Named like Docker's exports: no "./", no entry for the root itself.
    assert all(not name.startswith(("./", "/")) and name not in (".", "") for name in names)
    # Sorted by name within each directory.
    assert names == sorted(names, key=lambda name: name.split("/"))
    assert len(names) == len(set(names))
    for member in _members(busybox_tar).values():
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "root", "root")
        assert member.mtime == BUSYBOX_EPOCH
        assert not member.pax_headers, member.name
    assert busybox_tar.stat().st_size % 10240 == 0
    assert 1_500_000 < busybox_tar.stat().st_size < 3_000_000


def test_busybox_rebuild_is_byte_identical(busybox_tar: Path, tmp_path: Path) -> None:
    again = ensure_base_image("busybox", tmp_path / "cache-b")
    assert again != busybox_tar
    assert again.read_bytes() == busybox_tar.read_bytes()
    # Nothing but the tarball and the lock is left in the cache.
    assert sorted(p.name for p in again.parent.iterdir()) == [".busybox.lock", "busybox.tar"]


@pytest.mark.skipif(not is_root, reason="chroot needs root")
def test_busybox_runs_in_chroot(busybox_tar: Path, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    subprocess.run(["tar", "-xpf", str(busybox_tar), "-C", str(rootfs)], check=True)
    result = subprocess.run(
        ["chroot", str(rootfs), "/bin/sh", "-c", "echo ok; id -un; env true && ls /usr/bin/env"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\nroot\n/usr/bin/env\n"


@needs_busybox
def test_existing_tarball_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "busybox.tar"
    target.write_bytes(b"cached")
    assert ensure_base_image("busybox", tmp_path) == target
    assert target.read_bytes() == b"cached"
    ensure_base_image("busybox", tmp_path, force=True)
    assert target.read_bytes() != b"cached"


def test_cache_directory_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_BASE_CACHE", str(tmp_path))
    assert tarball_path("busybox") == tmp_path / "busybox.tar"
    assert tarball_path("debian") == tmp_path / "debian-bookworm.tar"
    assert tarball_path("debian", "/x") == Path("/x/debian-bookworm.tar")
    monkeypatch.delenv("DOCKYARD_BASE_CACHE")
    assert tarball_path("busybox") == Path("/var/cache/dockyard/base/busybox.tar")


def test_unknown_image(tmp_path: Path) -> None:
    with pytest.raises(BaseImageError, match="unknown base image 'alpine'"):
        ensure_base_image("alpine", tmp_path)


def test_static_elf_check(tmp_path: Path) -> None:
    assert not baseimages.is_static_elf(
        Path("/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true")
    )
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    assert not baseimages.is_static_elf(script)
    if _have_busybox():
        assert baseimages.is_static_elf(baseimages.find_busybox())


# --------------------------------------------------------------------------
# import description


def test_base_images_describe_the_import() -> None:
    assert BASE_IMAGES["busybox"]["tag"] == "busybox:latest"
    assert BASE_IMAGES["busybox"]["changes"] == ['CMD ["sh"]']
    assert BASE_IMAGES["debian"]["tag"] == "debian:bookworm"
    assert 'CMD ["bash"]' in BASE_IMAGES["debian"]["changes"]
    argv = import_command("busybox", Path("/c/busybox.tar"), root="/r")
    assert argv[1:] == [
        "-m",
        "dockyard.cli.main",
        "--root",
        "/r",
        "import",
        "--change",
        'CMD ["sh"]',
        "/c/busybox.tar",
        "busybox:latest",
    ]


# --------------------------------------------------------------------------
# debian: finding the mirror


def _apt_dir(tmp_path: Path, sources_list: str = "", parts: dict[str, str] | None = None) -> Path:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    if sources_list:
        (apt / "sources.list").write_text(sources_list)
    for name, text in (parts or {}).items():
        (apt / "sources.list.d" / name).write_text(text)
    return apt


def test_mirror_from_deb822_sources(tmp_path: Path) -> None:
    apt = _apt_dir(
        tmp_path,
        parts={
            "debian.sources": (
                "Types: deb\n"
                "# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
                "URIs: http://mirror.example/debian-security\n"
                "Suites: bookworm-security\n"
                "Components: main\n"
                "\n"
                "Types: deb-src\n"
                "URIs: http://src.example/debian\n"
                "Suites: bookworm\n"
                "\n"
                "Enabled: no\n"
                "Types: deb\n"
                "URIs: http://disabled.example/debian\n"
                "Suites: bookworm\n"
                "\n"
                "Types: deb\n"
                "URIs: http://mirror.example/debian/\n"
                "Suites: bookworm bookworm-updates\n"
                "Components: main\n"
                "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
            ),
        },
    )
    assert find_debian_mirror(apt) == "http://mirror.example/debian"


def test_mirror_from_one_line_sources(tmp_path: Path) -> None:
    apt = _apt_dir(
        tmp_path,
        sources_list=(
            "# deb http://commented.example/debian bookworm main\n"
            "deb-src http://src.example/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main contrib\n"
        ),
        parts={"other.sources": "Types: deb\nURIs: http://later.example/d\nSuites: bookworm\n"},
    )
    assert find_debian_mirror(apt) == "http://one.example/debian"


def test_no_mirror_for_bookworm(tmp_path: Path) -> None:
    apt = _apt_dir(tmp_path, sources_list="deb http://x.example/debian trixie main\n")
    assert find_debian_mirror(apt) is None
    assert find_debian_mirror(tmp_path / "nonexistent") is None


def test_release_epoch() -> None:
    text = "Origin: Debian\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSuite: stable\n"
    assert release_epoch(text) == 1783764997
    assert release_epoch("Origin: Debian\n") is None


# --------------------------------------------------------------------------
# debian: the tarball


@pytest.fixture(scope="module")
def debian_tar() -> Path:
    """The cached debian tarball; built here (minutes) only if it is not cached yet."""
    path = tarball_path("debian")
    if path.is_file():
        return path
    if not is_root:
        pytest.skip("debian base image not cached and building it needs root")
    if not shutil.which("debootstrap") and not os.path.exists("/usr/sbin/debootstrap"):
        pytest.skip("debian base image not cached and debootstrap is not installed")
    try:
        return ensure_base_image("debian")
    except MirrorUnreachable as error:
        pytest.skip(f"debootstrap cannot reach the Debian mirror: {error}")


def test_debian_tarball_contents(debian_tar: Path) -> None:
    assert debian_tar.name == "debian-bookworm.tar"
    members = _members(debian_tar)
    # bookworm is merged-/usr: /bin is a symlink to usr/bin.
    assert members["bin"].issym() and members["bin"].linkname == "usr/bin"
    for path in ("usr/bin/bash", "usr/bin/apt", "etc/debian_version", "usr/bin/dpkg"):
        assert members[path].isfile(), path
    with tarfile.open(debian_tar) as tar:
        version = tar.extractfile("etc/debian_version").read().decode()  # type: ignore[union-attr]
        sources = tar.extractfile("etc/apt/sources.list.d/debian.sources").read().decode()  # type: ignore[union-attr]
    assert version.startswith("12.")
    assert "URIs: http://deb.debian.org/debian\n" in sources
    assert "etc/apt/sources.list" not in members
    # Cleaned like Docker's debian images.
    for directory in ("var/lib/apt/lists", "var/cache/apt", "dev", "tmp", "proc", "sys"):
        assert members[directory].isdir(), directory
        assert not [name for name in members if name.startswith(directory + "/")], directory
    for name in ("etc/resolv.conf", "etc/hostname", "var/log/dpkg.log", "var/log/bootstrap.log"):
        assert name not in members, name
    logs = [m for name, m in members.items() if name.startswith("var/log/") and m.isfile()]
    assert all(m.size == 0 for m in logs)
    assert members["usr/sbin/policy-rc.d"].mode == 0o755
    assert "etc/apt/apt.conf.d/docker-clean" in members


def test_debian_tarball_is_canonical(debian_tar: Path) -> None:
    names = _names_in_order(debian_tar)
    assert all(not name.startswith(("./", "/")) and name not in (".", "") for name in names)
    assert names == sorted(names, key=lambda name: name.split("/"))
    members = _members(debian_tar)
    newest = max(member.mtime for member in members.values())
    # mtimes clamped: everything the build made carries one fixed time.
    assert sum(member.mtime == newest for member in members.values()) > 100
    assert members["etc/apt/sources.list.d/debian.sources"].mtime == newest
    # Owners are numeric (no host name lookups), root except a few system groups.
    assert all(member.uid == 0 for member in members.values())
    assert members["etc/shadow"].gid == 42  # group shadow
    assert not any(m.ischr() or m.isblk() or m.isfifo() for m in members.values())
    assert 90_000_000 < debian_tar.stat().st_size < 160_000_000


def test_tree_naming_the_build_mirror_is_refused(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/leak").write_text("deb http://mirror.corp.internal/debian bookworm main\n")
    with pytest.raises(BaseImageError, match="etc/leak names the build mirror"):
        baseimages._check_no_mirror_host(tmp_path, "http://mirror.corp.internal/debian")
    baseimages._check_no_mirror_host(tmp_path, "http://other.internal/debian")
