"""Offline base images: busybox and debian:bookworm as flat rootfs tarballs.

The machines dockyard is developed and tested on reach Debian's package
mirror but not Docker Hub, so the two images the tutorial needs are built
locally and then imported like any flat filesystem::

    python -m dockyard.devtools.baseimages [--cache DIR] [busybox|debian ...]
    dockyard import --change 'CMD ["sh"]' busybox.tar busybox:latest

- ``busybox``: Debian's busybox-static binary at ``bin/busybox``, one relative
  symlink per applet at the path ``busybox --list-full`` gives, and the
  /etc/passwd, /etc/group and /etc/shadow of the official busybox image.
  The tarball is byte-identical on every machine with the same binary.
- ``debian``: ``debootstrap --variant=minbase bookworm`` from the mirror the
  machine's apt sources name, cleaned the way Docker's debian images are.

Tarballs are cached (``$DOCKYARD_BASE_CACHE`` or /var/cache/dockyard/base);
an existing tarball is never rebuilt unless asked. Builds happen in a
temporary directory inside the cache and are renamed into place, so a
tarball that exists is complete. See docs/base-images.md.
"""

from __future__ import annotations

import argparse
import email.utils
import fcntl
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from dockyard.errors import DockyardError

DEFAULT_CACHE = Path("/var/cache/dockyard/base")
CACHE_ENV = "DOCKYARD_BASE_CACHE"
MIRROR_ENV = "DOCKYARD_DEBIAN_MIRROR"
BUSYBOX_ENV = "DOCKYARD_BUSYBOX"

DEBIAN_SUITE = "bookworm"
# Used only when the machine's apt sources name no bookworm mirror at all.
FALLBACK_MIRROR = "http://deb.debian.org/debian"

# mtime of every entry of busybox.tar: 2023-06-10T00:00:00Z, the day Debian 12
# "bookworm" (which provides the busybox binary) was released. A constant, not
# the build time and not $SOURCE_DATE_EPOCH, so that the tarball is the same
# bytes on every machine that has the same busybox binary.
BUSYBOX_EPOCH = 1686355200

# How the engine imports each tarball (`dockyard import --change ... TAR TAG`).
# debian's ENV matches what the reference debian:bookworm image has
# (Config.Env in /work/shared/reference/inspect/debian_bookworm.json); busybox's
# reference image has no Env at all.
DEBIAN_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_IMAGES: dict[str, dict] = {
    "busybox": {
        "tag": "busybox:latest",
        "file": "busybox.tar",
        "changes": ['CMD ["sh"]'],
    },
    "debian": {
        "tag": "debian:bookworm",
        "file": "debian-bookworm.tar",
        "changes": [f"ENV {DEBIAN_PATH}", 'CMD ["bash"]'],
    },
}


class BaseImageError(DockyardError):
    """A base image cannot be built (missing tool, failed command, bad input)."""


class MirrorUnreachable(BaseImageError):
    """The Debian mirror does not answer: debootstrap cannot run here."""


# --------------------------------------------------------------------------
# public API


def cache_dir(cache: Path | str | None = None) -> Path:
    """The cache directory: `cache`, else $DOCKYARD_BASE_CACHE, else the default."""
    if cache is not None:
        return Path(cache)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else DEFAULT_CACHE


def tarball_path(name: str, cache: Path | str | None = None) -> Path:
    """Where the tarball of base image `name` lives (whether or not it exists yet)."""
    return cache_dir(cache) / _spec(name)["file"]


def ensure_base_image(
    name: str,
    cache: Path | None = None,
    *,
    force: bool = False,
    mirror: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Return the path of base image `name`'s rootfs tarball, building it if missing.

    `name` is "busybox" or "debian". An existing tarball is returned as it is
    (unless `force`). Concurrent callers wait for one another on a lock file in
    the cache directory, so an image is built at most once. `mirror` overrides
    the Debian mirror found in the machine's apt sources; `log` receives
    progress lines (debootstrap's output included).
    """
    spec = _spec(name)
    directory = cache_dir(cache)
    target = directory / spec["file"]
    if target.is_file() and not force:
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory / f".{name}.lock"):
        if target.is_file() and not force:
            return target  # built by someone else while we waited
        work = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=directory))
        try:
            partial = work / spec["file"]
            if name == "busybox":
                build_busybox(work / "rootfs", partial, log=log)
            else:
                build_debian(work / "rootfs", partial, mirror=mirror, log=log)
            _fsync_path(partial)
            os.replace(partial, target)
            _fsync_path(directory)
        finally:
            _remove_tree(work)
    return target


def import_command(name: str, tarball: Path, root: str | None = None) -> list[str]:
    """argv of the `dockyard import` that turns `tarball` into base image `name`."""
    spec = _spec(name)
    argv = [sys.executable, "-m", "dockyard.cli.main"]
    if root:
        argv += ["--root", root]
    argv.append("import")
    for change in spec["changes"]:
        argv += ["--change", change]
    return argv + [str(tarball), spec["tag"]]


def _spec(name: str) -> dict:
    try:
        return BASE_IMAGES[name]
    except KeyError:
        known = ", ".join(sorted(BASE_IMAGES))
        raise BaseImageError(f"unknown base image {name!r} (known: {known})") from None


# --------------------------------------------------------------------------
# busybox

# /etc/passwd, /etc/group and /etc/shadow of the official busybox image
# (buildroot's skeleton files; the image's builder replaces root's empty
# password in /etc/shadow with "*", CVE-2019-5021).
BUSYBOX_PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
BUSYBOX_GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
"""
BUSYBOX_SHADOW = """\
root:*:::::::
daemon:*:::::::
bin:*:::::::
sys:*:::::::
sync:*:::::::
mail:*:::::::
www-data:*:::::::
operator:*:::::::
nobody:*:::::::
"""

# Directories besides the applets' own (bin, sbin, usr/bin, usr/sbin): the
# official image's /dev, /etc, /tmp, /root and the users' home directories.
BUSYBOX_DIRS = {
    "bin": 0o755,
    "dev": 0o755,
    "etc": 0o755,
    "home": 0o755,
    "root": 0o700,
    "tmp": 0o1777,
    "usr": 0o755,
    "usr/sbin": 0o755,
    "var": 0o755,
    "var/spool": 0o755,
    "var/spool/mail": 0o755,
    "var/www": 0o755,
}


def find_busybox() -> Path:
    """The static busybox binary to copy: $DOCKYARD_BUSYBOX, else busybox-static's."""
    candidates: list[Path] = []
    env = os.environ.get(BUSYBOX_ENV)
    if env:
        candidates.append(Path(env))
    else:
        try:
            listing = subprocess.run(
                ["dpkg", "-L", "busybox-static"], capture_output=True, text=True, check=False
            ).stdout
        except FileNotFoundError:
            listing = ""
        candidates += [
            Path(line)
            for line in listing.splitlines()
            if re.fullmatch(r"/(usr/)?bin/busybox", line)
        ]
        candidates += [Path("/bin/busybox"), Path("/usr/bin/busybox")]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            if not is_static_elf(path):
                raise BaseImageError(
                    f"{path} is dynamically linked; install busybox-static "
                    f"(apt-get install busybox-static) or set {BUSYBOX_ENV}"
                )
            return path
    raise BaseImageError(f"no busybox binary found; install busybox-static or set {BUSYBOX_ENV}")


def is_static_elf(path: Path) -> bool:
    """True if `path` is an ELF executable without a program interpreter."""
    with open(path, "rb") as f:
        header = f.read(64)
        if len(header) < 52 or header[:4] != b"\x7fELF":
            return False
        endian = "<" if header[5] == 1 else ">"
        if header[4] == 2:  # ELFCLASS64
            (phoff,) = struct.unpack_from(endian + "Q", header, 32)
            phentsize, phnum = struct.unpack_from(endian + "HH", header, 54)
        else:
            (phoff,) = struct.unpack_from(endian + "I", header, 28)
            phentsize, phnum = struct.unpack_from(endian + "HH", header, 42)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for index in range(phnum):
        (p_type,) = struct.unpack_from(endian + "I", table, index * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def busybox_applets(busybox: Path) -> list[str]:
    """Applet paths relative to / (`bin/sh`, `usr/bin/env`, ...), without busybox itself.

    Applets that busybox installs at the top level (`linuxrc`, for an initrd)
    are left out: a container has no use for them.
    """
    listing = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True
    ).stdout
    applets = set()
    for line in listing.splitlines():
        path = line.strip()
        parts = path.split("/")
        if len(parts) < 2 or path == "bin/busybox":
            continue
        if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise BaseImageError(f"{busybox} --list-full: unexpected path {path!r}")
        applets.add(path)
    if "bin/sh" not in applets:
        raise BaseImageError(f"{busybox} has no sh applet")
    return sorted(applets)


def make_busybox_rootfs(rootfs: Path, busybox: Path) -> None:
    """Lay out the busybox image's filesystem in `rootfs` (which must not exist)."""
    applets = busybox_applets(busybox)
    rootfs.mkdir(mode=0o755)
    dirs = dict(BUSYBOX_DIRS)
    for applet in applets:
        parent = os.path.dirname(applet)
        while parent:
            dirs.setdefault(parent, 0o755)
            parent = os.path.dirname(parent)
    for name in sorted(dirs):
        path = rootfs / name
        path.mkdir()
        os.chmod(path, dirs[name])
    shutil.copyfile(busybox, rootfs / "bin/busybox")
    os.chmod(rootfs / "bin/busybox", 0o755)
    for name, text, mode in (
        ("etc/passwd", BUSYBOX_PASSWD, 0o644),
        ("etc/group", BUSYBOX_GROUP, 0o644),
        ("etc/shadow", BUSYBOX_SHADOW, 0o600),
    ):
        (rootfs / name).write_text(text)
        os.chmod(rootfs / name, mode)
    for applet in applets:
        target = os.path.relpath("bin/busybox", os.path.dirname(applet))
        os.symlink(target, rootfs / applet)


def build_busybox(
    rootfs: Path, out: Path, *, busybox: Path | None = None, log: Callable | None = None
) -> None:
    """Build busybox.tar at `out`, using `rootfs` (must not exist) as scratch space."""
    busybox = busybox or find_busybox()
    _log(log, f"busybox: rootfs from {busybox}")
    make_busybox_rootfs(rootfs, busybox)
    write_tar(
        rootfs,
        out,
        epoch=BUSYBOX_EPOCH,
        clamp=False,
        owner="root:0",
        group="root:0",
        xattrs=False,
    )


# --------------------------------------------------------------------------
# debian


def find_debian_mirror(apt_dir: Path = Path("/etc/apt"), suite: str = DEBIAN_SUITE) -> str | None:
    """The first `deb` URI the machine's apt sources use for `suite`, or None.

    Reads sources.list, then sources.list.d/*.list and *.sources (deb822) in
    apt's order. Only http, https, ftp and file URIs count (debootstrap's).
    """
    files: list[Path] = []
    if (apt_dir / "sources.list").is_file():
        files.append(apt_dir / "sources.list")
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        entries = _deb822_entries(text) if path.suffix == ".sources" else _one_line_entries(text)
        for uris, suites in entries:
            if suite in suites:
                for uri in uris:
                    if urllib.parse.urlsplit(uri).scheme in ("http", "https", "ftp", "file"):
                        return uri.rstrip("/")
    return None


def _one_line_entries(text: str) -> Iterator[tuple[list[str], list[str]]]:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "[" in line:  # options: deb [arch=amd64 signed-by=...] URI suite ...
            line = re.sub(r"\[[^]]*\]", " ", line)
        words = line.split()
        if len(words) >= 3 and words[0] == "deb":
            yield [words[1]], [words[2]]


def _deb822_entries(text: str) -> Iterator[tuple[list[str], list[str]]]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        yield fields.get("uris", "").split(), fields.get("suites", "").split()


def debian_mirror(mirror: str | None = None) -> str:
    """The mirror to debootstrap from: `mirror`, $DOCKYARD_DEBIAN_MIRROR, apt's, or Debian's."""
    return (mirror or os.environ.get(MIRROR_ENV) or find_debian_mirror() or FALLBACK_MIRROR).rstrip(
        "/"
    )


def release_epoch(text: str) -> int | None:
    """The `Date:` of a Debian Release file as a Unix time, or None."""
    match = re.search(r"^Date:\s*(.+)$", text, re.MULTILINE)
    if not match:
        return None
    try:
        return int(email.utils.parsedate_to_datetime(match.group(1).strip()).timestamp())
    except (TypeError, ValueError):
        return None


def probe_mirror(mirror: str, suite: str = DEBIAN_SUITE, timeout: float = 20) -> int | None:
    """Fetch the suite's Release file; raise MirrorUnreachable if the mirror does not answer.

    Returns the Release file's date (None if it has none).
    """
    url = f"{mirror}/dists/{suite}/Release"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read(1 << 20).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise MirrorUnreachable(f"Debian mirror unreachable: {url}: {reason}") from None
    return release_epoch(text)


# Docker's debian images (debuerreotype) ship this deb822 file and no
# /etc/apt/sources.list; the mirror the image was built from is not kept.
DEBIAN_SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

# The container-minded configuration Docker's debian images carry, under the
# same file names (Dockerfiles delete some of them by name, e.g. docker-clean).
DEBIAN_CONFIG_FILES = {
    "usr/sbin/policy-rc.d": (
        0o755,
        "#!/bin/sh\n\n"
        "# Packages installed in a container must not start services: invoke-rc.d\n"
        "# reads exit code 101 as 'action forbidden'.\n\n"
        "exit 101\n",
    ),
    "etc/dpkg/dpkg.cfg.d/docker-apt-speedup": (
        0o644,
        "# A container build that loses power is started again from scratch, so\n"
        "# dpkg need not sync() after unpacking each package.\n\n"
        "force-unsafe-io\n",
    ),
    "etc/apt/apt.conf.d/docker-autoremove-suggests": (
        0o644,
        "# Let 'apt-get purge --auto-remove' remove what only a Suggests keeps.\n\n"
        'Apt::AutoRemove::SuggestsImportant "false";\n',
    ),
    "etc/apt/apt.conf.d/docker-clean": (
        0o644,
        "# Keep image layers small: drop downloaded packages and apt's binary caches\n"
        "# after every install and update (what 'apt-get clean' does).\n"
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb'
        ' /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb'
        ' /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n\n'
        'Dir::Cache::pkgcache "";\n'
        'Dir::Cache::srcpkgcache "";\n',
    ),
    "etc/apt/apt.conf.d/docker-gzip-indexes": (
        0o644,
        "# Keep package lists compressed on disk: 'apt-get update' layers stay small.\n\n"
        'Acquire::GzipIndexes "true";\n',
    ),
    "etc/apt/apt.conf.d/docker-no-languages": (
        0o644,
        '# Do not download translated package descriptions.\n\nAcquire::Languages "none";\n',
    ),
}


def build_debian(
    rootfs: Path,
    out: Path,
    *,
    mirror: str | None = None,
    log: Callable[[str], None] | None = None,
) -> None:
    """debootstrap bookworm (minbase) into `rootfs`, clean it, and tar it to `out`."""
    debootstrap = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap") else None
    )
    if not debootstrap:
        raise BaseImageError("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise BaseImageError("building the debian base image needs root (debootstrap)")
    mirror = debian_mirror(mirror)
    probed_epoch = probe_mirror(mirror)
    started = time.time()
    _log(log, f"debian: debootstrap --variant=minbase {DEBIAN_SUITE} (mirror from apt sources)")
    command = [debootstrap, "--variant=minbase", DEBIAN_SUITE, str(rootfs), mirror]
    output: list[str] = []
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        _log(log, "  " + line.rstrip("\n"))
    if process.wait() != 0:
        tail = "".join(output[-15:])
        log_file = rootfs / "debootstrap" / "debootstrap.log"
        if log_file.is_file():
            tail += log_file.read_text(errors="replace")[-3000:]
        raise BaseImageError(f"debootstrap failed (exit {process.returncode}):\n{tail}")
    _log(log, f"debian: debootstrap took {time.time() - started:.1f}s")
    epoch = _rootfs_release_epoch(rootfs) or probed_epoch or int(started)
    clean_debian_rootfs(rootfs, epoch=epoch, since=started - 2)
    _check_no_mirror_host(rootfs, mirror)
    _log(log, "debian: writing tarball")
    write_tar(rootfs, out, epoch=epoch, clamp=True, numeric_owner=True, xattrs=True)


def _rootfs_release_epoch(rootfs: Path) -> int | None:
    lists = rootfs / "var/lib/apt/lists"
    for pattern in (f"*_dists_{DEBIAN_SUITE}_InRelease", f"*_dists_{DEBIAN_SUITE}_Release"):
        for path in sorted(lists.glob(pattern)):
            epoch = release_epoch(path.read_text(errors="replace"))
            if epoch:
                return epoch
    return None


def clean_debian_rootfs(rootfs: Path, *, epoch: int, since: float) -> None:
    """Turn a fresh debootstrap tree into what Docker's debian images contain.

    `epoch` is the build's reference time (the suite's Release date);
    everything created or changed after `since` (the build's start) gets it as
    mtime, so that the tree does not depend on when it was built.
    """
    for leftover in ("proc", "sys"):
        if os.path.ismount(rootfs / leftover):
            raise BaseImageError(f"{rootfs / leftover} is still mounted after debootstrap")
    # Every installed package marked automatic, as in Docker's images
    # (`apt-mark showmanual` prints nothing).
    subprocess.run(
        ["chroot", str(rootfs), "apt-mark", "auto", ".*"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    # The mirror the image was built from stays out of it.
    _remove(rootfs / "etc/apt/sources.list")
    sources = rootfs / "etc/apt/sources.list.d/debian.sources"
    sources.write_text(DEBIAN_SOURCES)
    os.chmod(sources, 0o644)
    for name, (mode, text) in DEBIAN_CONFIG_FILES.items():
        (rootfs / name).write_text(text)
        os.chmod(rootfs / name, mode)
    # Indexes, caches and logs of the build; apt recreates lists/partial and
    # archives/partial itself.
    for directory in ("var/lib/apt/lists", "var/cache/apt", "dev", "tmp", "var/tmp", "proc", "sys"):
        _empty_dir(rootfs / directory)
    for name in (
        "var/cache/ldconfig/aux-cache",
        "run/mount/utab",
        # debootstrap copies these two from the host; the engine provides both.
        "etc/resolv.conf",
        "etc/hostname",
    ):
        _remove(rootfs / name)
    if (rootfs / "run/mount").is_dir() and not any((rootfs / "run/mount").iterdir()):
        (rootfs / "run/mount").rmdir()
    for dirpath, _dirnames, filenames in os.walk(rootfs / "var/log"):
        for filename in filenames:
            path = Path(dirpath, filename)
            if path.is_symlink() or not path.is_file():
                continue
            if filename.endswith(".log") or filename.endswith(".gz"):
                path.unlink()
            elif path.stat().st_size:
                os.truncate(path, 0)  # wtmp, btmp, lastlog, faillog: kept, empty
    machine_id = rootfs / "etc/machine-id"
    if machine_id.is_file() and not machine_id.is_symlink():
        os.truncate(machine_id, 0)
    # Password ages: the day of the build would differ from one build to the next.
    days = epoch // 86400
    for name in ("etc/shadow", "etc/shadow-"):
        path = rootfs / name
        if not path.is_file():
            continue
        lines = []
        for line in path.read_text().splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[2].isdigit() and int(fields[2]) > days:
                fields[2] = str(days)
            lines.append(":".join(fields))
        path.write_text("".join(line + "\n" for line in lines))
    # Timestamps: whatever this build created or touched gets `epoch`.
    for dirpath, dirnames, filenames in os.walk(rootfs):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.lstat(path).st_mtime >= since:
                os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.utime(rootfs, (epoch, epoch))


def _check_no_mirror_host(rootfs: Path, mirror: str) -> None:
    """Refuse a tree that still names the (local) mirror it was built from."""
    host = urllib.parse.urlsplit(mirror).hostname
    if not host or host == "deb.debian.org":
        return
    needle = host.encode()
    for dirpath, _dirnames, filenames in os.walk(rootfs):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            with open(path, "rb") as f:
                if needle in f.read():
                    raise BaseImageError(
                        f"{os.path.relpath(path, rootfs)} names the build mirror {host}"
                    )


# --------------------------------------------------------------------------
# tar


def gnu_tar() -> str:
    tar = shutil.which("tar")
    if tar:
        version = subprocess.run([tar, "--version"], capture_output=True, text=True).stdout
        if version.startswith("tar (GNU tar)"):
            return tar
    raise BaseImageError("GNU tar is required (apt-get install tar)")


def write_tar(
    rootfs: Path,
    out: Path,
    *,
    epoch: int,
    clamp: bool,
    owner: str | None = None,
    group: str | None = None,
    numeric_owner: bool = False,
    xattrs: bool = False,
) -> None:
    """Write `rootfs` as a deterministic, uncompressed POSIX tar at `out`.

    Entries are sorted by name and named like Docker's exports (`bin`,
    `etc/passwd`: no `./` prefix and no entry for the root directory itself).
    mtimes are `epoch` (with `clamp`: at most `epoch`); pax headers carry no
    atime/ctime and have fixed names.
    """
    top = sorted(os.listdir(rootfs))
    if not top:
        raise BaseImageError(f"{rootfs} is empty")
    command = [
        gnu_tar(),
        "--create",
        f"--file={out}",
        f"--directory={rootfs}",
        "--format=posix",
        "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
        "--sort=name",
        f"--mtime=@{epoch}",
        "--no-acls",
        "--no-selinux",
    ]
    if clamp:
        command.append("--clamp-mtime")
    if owner:
        command.append(f"--owner={owner}")
    if group:
        command.append(f"--group={group}")
    if numeric_owner:
        command.append("--numeric-owner")
    if xattrs:
        # Keep file capabilities and user xattrs; a host's SELinux labels and
        # overlayfs' private attributes are not part of the image.
        command += [
            "--xattrs",
            "--xattrs-include=*",
            "--xattrs-exclude=security.selinux",
            "--xattrs-exclude=trusted.*",
        ]
    else:
        command.append("--no-xattrs")
    command += ["--", *top]
    env = dict(os.environ, LC_ALL="C", TZ="UTC")
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise BaseImageError(f"tar failed (exit {result.returncode}): {result.stderr.strip()}")


# --------------------------------------------------------------------------
# helpers


def _log(log: Callable[[str], None] | None, message: str) -> None:
    if log is not None:
        log(message)


class _locked:
    """An exclusive flock on `path` for the duration of a `with` block."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _locked:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()


def _empty_dir(path: Path) -> None:
    if not path.is_dir() or path.is_symlink():
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _mounts_under(path: Path) -> list[str]:
    prefix = os.path.realpath(path)
    mounts = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4].replace("\\040", " ")
                if point == prefix or point.startswith(prefix + "/"):
                    mounts.append(point)
    except OSError:
        pass
    return mounts


def _remove_tree(path: Path) -> None:
    """rmtree a build directory, first unmounting what a failed debootstrap left mounted."""
    if not path.exists():
        return
    for point in sorted(_mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    left = _mounts_under(path)
    if left:
        sys.stderr.write(f"warning: not removing {path}: still mounted: {', '.join(left)}\n")
        return
    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------
# command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dockyard.devtools.baseimages",
        description="Build the offline base image tarballs (busybox, debian:bookworm).",
    )
    parser.add_argument("names", nargs="*", metavar="busybox|debian", help="default: both")
    parser.add_argument(
        "--cache", help=f"cache directory (default ${CACHE_ENV} or {DEFAULT_CACHE})"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument(
        "--mirror", help=f"Debian mirror URL (default ${MIRROR_ENV}, else apt's bookworm source)"
    )
    parser.add_argument(
        "--import",
        dest="do_import",
        action="store_true",
        help="then import each tarball with `dockyard import` under its tag",
    )
    parser.add_argument("--root", help="dockyard store for --import (default: dockyard's)")
    args = parser.parse_args(argv)
    names = args.names or list(BASE_IMAGES)
    for name in names:
        if name not in BASE_IMAGES:
            parser.error(f"unknown base image {name!r} (choose from {', '.join(BASE_IMAGES)})")

    def log(message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    status = 0
    for name in names:
        started = time.time()
        existed = tarball_path(name, args.cache).is_file()
        try:
            path = ensure_base_image(
                name, args.cache, force=args.force, mirror=args.mirror, log=log
            )
        except BaseImageError as error:
            log(f"{name}: error: {error}")
            status = 1
            continue
        if not existed or args.force:
            size = path.stat().st_size
            log(f"{name}: built {path} ({size} bytes) in {time.time() - started:.1f}s")
        print(path, flush=True)
        if args.do_import:
            command = import_command(name, path, args.root)
            if subprocess.run(command, check=False).returncode != 0:
                log(f"{name}: import failed: {' '.join(command)}")
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
