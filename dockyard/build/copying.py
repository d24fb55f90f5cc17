"""COPY and ADD: which sources (context or another image's tree), and how they are laid
into the step's tree, as Docker 20.10's classic builder does (builder/dockerfile/copy.go).

Every path is resolved inside its root (symlinks followed with the root as "/"), so no
source outside the context is read and nothing outside the step's tree is written.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import stat

from dockyard.build.contexthash import Headers, hash_strings, source_sum
from dockyard.datarecord import dataclass
from dockyard.errors import InvalidArgument
from dockyard.runtime.securejoin import secure_join

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Callable


class CopyError(InvalidArgument):
    pass


@dataclass
class Source:
    root: str  # the context's or an image's tree
    path: str  # as resolved: a host path inside root
    name: str  # the requested name's last element (a file copied into a directory keeps it)
    checksum: str  # file:<sum> or dir:<sum>
    extract: bool = True  # ADD extracts a local archive (never a downloaded one)


def _has_wildcards(path: str) -> bool:
    i = 0
    while i < len(path):
        if path[i] == "\\":
            i += 2
            continue
        if path[i] in "*?[":
            return True
        i += 1
    return False


def go_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match (`*` and `?` never match a slash)."""
    out = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i < len(pattern):
            out += re.escape(pattern[i])
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                return False
            body = pattern[i:end]
            i = end + 1
            negate = body.startswith("^")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\")
            out += "[" + ("^" if negate else "") + body + "]"
        else:
            out += re.escape(ch)
    try:
        return re.fullmatch(out, name) is not None
    except re.error:
        return False


def _clean_source(path: str) -> str:
    if path.startswith("/") and len(path) > 1:
        path = path[1:]
    return path.removeprefix("./")


def _resolve(root: str, rel: str, original: str) -> str:
    normal = posixpath.normpath(rel) if rel else "."
    if normal == ".." or normal.startswith("../"):
        raise CopyError(f"forbidden path outside the build context: {original} ()")
    return secure_join(root, normal)


def _single(root: str, rel: str, original: str, headers: Headers = None) -> Source:
    path = _resolve(root, rel, original)
    if not os.path.exists(path):
        raise CopyError(
            "file not found in build context or excluded by .dockerignore:"
            f" stat {rel}: file does not exist"
        )
    resolved_rel = os.path.relpath(path, root)
    name = posixpath.basename(posixpath.normpath(rel)) if rel not in ("", ".") else ""
    return Source(root, path, name, source_sum(root, resolved_rel, headers))


def find_sources(
    root: str, requested: list[str], wildcards: bool = True, headers: Headers = None
) -> list[Source]:
    """headers: what the checksums are made from (see contexthash)."""
    sources: list[Source] = []
    for original in requested:
        rel = _clean_source(original)
        if wildcards and _has_wildcards(rel):
            for current, dirs, files in os.walk(root):
                dirs.sort()
                for name in sorted(dirs + files):
                    entry_rel = os.path.relpath(os.path.join(current, name), root)
                    if go_match(rel, entry_rel):
                        sources.append(_single(root, entry_rel, entry_rel, headers))
            continue
        sources.append(_single(root, rel, original, headers))
    if not sources:
        raise CopyError("no source files were specified")
    return sources


def checksum_of(sources: list[Source]) -> str:
    if len(sources) == 1:
        return sources[0].checksum
    return hash_strings("multi", [s.checksum for s in sources])


def destination_path(workdir: str, dest: str) -> str:
    """normalizeDest: a relative destination is under WORKDIR; a trailing slash kept."""
    if dest.startswith("/"):
        return dest
    joined = posixpath.join("/", workdir or "/", dest)
    joined = posixpath.normpath(joined)
    return joined + "/" if dest.endswith("/") and joined != "/" else joined


# ---------------------------------------------------------------- laying files down


def _mkdir_all_new(tree: str, path: str, owner: tuple[int, int]) -> None:
    """MkdirAllAndChownNew: missing directories made 0755 and given to owner."""
    rel = os.path.relpath(path, tree)
    if rel == ".":
        return
    current = tree
    for part in rel.split("/"):
        current = os.path.join(current, part)
        if os.path.isdir(current):
            continue
        if os.path.lexists(current):
            raise CopyError(f"mkdir {current[len(tree) :]}: not a directory")
        os.mkdir(current, 0o755)
        os.chmod(current, 0o755)
        os.lchown(current, *owner)


def _target(tree: str, dest: str) -> str:
    """The host path of dest inside tree: parents resolved inside it, the last element not
    followed when it is a symlink to a non-directory."""
    return secure_join(tree, dest)


def _copy_file(source: str, target: str, owner: tuple[int, int]) -> None:
    if os.path.isdir(target) and not os.path.islink(target):
        raise CopyError(f"cannot copy to non-directory: {target}")
    if os.path.lexists(target):
        os.unlink(target)
    st = os.stat(source)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with open(source, "rb") as src, os.fdopen(os.open(target, flags, 0o600), "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    os.chmod(target, stat.S_IMODE(st.st_mode))
    os.lchown(target, *owner)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy_tree(source: str, target: str, owner: tuple[int, int]) -> None:
    """The contents of source into target (which exists), entries given to owner."""
    for name in sorted(os.listdir(source)):
        src = os.path.join(source, name)
        dst = os.path.join(target, name)
        st = os.lstat(src)
        if stat.S_ISDIR(st.st_mode):
            if os.path.lexists(dst) and not (os.path.isdir(dst) and not os.path.islink(dst)):
                os.unlink(dst)
            if not os.path.lexists(dst):
                os.mkdir(dst, 0o700)
            _copy_tree(src, dst, owner)
            os.chmod(dst, stat.S_IMODE(st.st_mode))
            os.lchown(dst, *owner)
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        elif stat.S_ISLNK(st.st_mode):
            if os.path.isdir(dst) and not os.path.islink(dst):
                shutil.rmtree(dst)
            elif os.path.lexists(dst):
                os.unlink(dst)
            os.symlink(os.readlink(src), dst)
            os.lchown(dst, *owner)
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        elif stat.S_ISREG(st.st_mode):
            if os.path.isdir(dst) and not os.path.islink(dst):
                shutil.rmtree(dst)
            _copy_file(src, dst, owner)


def archive_opener(path: str) -> Callable[[], tarfile.TarFile] | None:
    """How to open a local file ADD extracts (a tar, plain or compressed); None if it is
    not one."""
    import bz2  # archives only for ADD (start-up time of every build)
    import gzip
    import lzma
    import tarfile

    with open(path, "rb") as source:
        head = source.read(6)
    if head[:2] == b"\x1f\x8b":
        wrap: Callable[[object], object] = lambda f: gzip.GzipFile(fileobj=f)  # noqa: E731
    elif head[:3] == b"BZh":
        wrap = lambda f: bz2.BZ2File(f)  # noqa: E731
    elif head[:6] == b"\xfd7zXZ\x00":
        wrap = lambda f: lzma.LZMAFile(f)  # noqa: E731
    else:
        wrap = lambda f: f  # noqa: E731
    try:
        with open(path, "rb") as raw:
            tarfile.open(fileobj=wrap(raw), mode="r|").next()  # type: ignore[call-overload]
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError):
        return None

    def opener() -> tarfile.TarFile:
        return tarfile.open(fileobj=wrap(open(path, "rb")), mode="r|")  # type: ignore[call-overload]  # noqa: SIM115

    return opener


def extract_archive(opener: Callable[[], tarfile.TarFile], tree: str, target: str) -> None:
    """ADD of a local archive: its entries under target, owners and modes as in the
    archive, nothing outside tree."""
    import tarfile

    from dockyard.containers.copy import extract_tar

    _mkdir_all_new(tree, target, (0, 0))
    with opener() as tar:
        try:
            extract_tar(tar, tree, target, True)
        except (tarfile.TarError, EOFError) as error:
            raise CopyError(f"failed to extract archive: {error}") from None


def place(
    tree: str,
    sources: list[Source],
    dest: str,
    owner: tuple[int, int],
    decompress: bool,
) -> None:
    """Lay the sources into tree at dest (already made absolute)."""
    dest_is_dir_form = dest.endswith("/")
    for source in sources:
        if os.path.isdir(source.path):
            target = _target(tree, dest)
            existed = os.path.isdir(target)
            _mkdir_all_new(tree, target, (0, 0))
            _copy_tree(source.path, target, owner)
            if not existed:
                os.lchown(target, *owner)
            continue
        if decompress and source.extract:
            opener = archive_opener(source.path)
            if opener is not None:
                extract_archive(opener, tree, _target(tree, dest))
                continue
        target = _target(tree, dest)
        if dest_is_dir_form or (os.path.isdir(target) and not os.path.islink(target)):
            target = os.path.join(target, source.name or os.path.basename(source.path))
        _mkdir_all_new(tree, os.path.dirname(target), owner)
        _copy_file(source.path, target, owner)


def lookup_owner(tree: str, spec: str) -> tuple[int, int]:
    """--chown=user[:group] with names from the step's /etc/passwd and /etc/group."""
    parts = spec.split(":")
    if len(parts) > 2:
        raise CopyError("invalid chown string format: " + spec)
    user, group = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    try:
        uid = _lookup(tree, "etc/passwd", user, 2)
    except LookupError as error:
        raise CopyError(
            "unable to convert uid/gid chown string to host mapping:"
            f" can't find uid for user {user}: {error}"
        ) from None
    try:
        gid = _lookup(tree, "etc/group", group, 2)
    except LookupError as error:
        raise CopyError(
            "unable to convert uid/gid chown string to host mapping:"
            f" can't find gid for group {group}: {error}"
        ) from None
    return uid, gid


def _lookup(tree: str, file: str, name: str, column: int) -> int:
    if name.isdigit():
        return int(name)
    kind = "user" if "passwd" in file else "group"
    try:
        with open(secure_join(tree, file), encoding="utf-8", errors="replace") as entries:
            for line in entries:
                fields = line.rstrip("\n").split(":")
                if len(fields) > column and fields[0] == name and fields[column].isdigit():
                    return int(fields[column])
    except OSError:
        raise LookupError(f"no such {kind}: {name}") from None
    raise LookupError(f"no such {kind}: {name}")
