"""The build context: a directory, a tar stream or a lone Dockerfile, turned into a
private staging directory the builder reads from.

Everything from outside is hostile. A directory context is copied as Docker's CLI
sends it (.dockerignore applied, owners root, symlinks kept as symlinks, never
followed); a tar stream is extracted as Docker's daemon extracts it (no entry outside
the staging directory, no devices, size and entry limits). Afterwards, as Docker's
daemon does, the Dockerfile and .dockerignore are removed from the context when
.dockerignore names them, so that COPY cannot see them.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from dockyard.build.dockerignore import PatternMatcher, read_patterns
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from typing import BinaryIO

MAX_CONTEXT_BYTES = int(os.environ.get("DOCKYARD_BUILD_CONTEXT_MAX") or 8 << 30)
MAX_CONTEXT_ENTRIES = 1_000_000
DEFAULT_DOCKERFILE = "Dockerfile"


class ContextError(InvalidArgument):
    pass


class BuildContext:
    """A staging directory holding the context, and the Dockerfile's text."""

    def __init__(
        self,
        root: Path,
        dockerfile: str,
        dockerfile_name: str,
        size: int,
        modes: dict[str, int] | None = None,
    ) -> None:
        self.root = root
        self.dockerfile = dockerfile
        self.dockerfile_name = dockerfile_name
        self.size = size  # bytes sent, as "Sending build context to Docker daemon" counts
        # the context tar's header modes by path (Docker's checksums are made of them; a
        # path without a header, a parent the extraction made, is summed as its name)
        self.modes = modes

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> BuildContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _staging(work_dir: str | None) -> Path:
    return Path(tempfile.mkdtemp(prefix="build-context-", dir=work_dir))


def _ignore_matcher(root: Path) -> PatternMatcher | None:
    path = root / ".dockerignore"
    if path.is_file() and not path.is_symlink():
        return PatternMatcher(read_patterns(path.read_text(errors="replace")))
    return None


def _remove_ignored_build_files(root: Path, dockerfile_name: str) -> None:
    matcher = _ignore_matcher(root)
    if matcher is None:
        return
    for name in (".dockerignore", dockerfile_name):
        if matcher.matches(name):
            path = root / name
            if path.is_file() or path.is_symlink():
                path.unlink()


def _check_budget(size: int, entries: int) -> None:
    if size > MAX_CONTEXT_BYTES:
        raise ContextError(
            f"build context is larger than the limit of {MAX_CONTEXT_BYTES} bytes"
            " (DOCKYARD_BUILD_CONTEXT_MAX)"
        )
    if entries > MAX_CONTEXT_ENTRIES:
        raise ContextError(f"build context has more than {MAX_CONTEXT_ENTRIES} entries")


def from_directory(
    directory: str,
    dockerfile_path: str | None = None,
    dockerfile_text: str | None = None,
    work_dir: str | None = None,
) -> BuildContext:
    """A context directory as the docker CLI sends it. ``dockerfile_path`` is relative to
    the current directory (as `-f` is); ``dockerfile_text`` is `-f -`."""
    source = Path(directory)
    if not source.is_dir():
        raise ContextError(f"unable to prepare context: path {directory!r} not found")
    name = DEFAULT_DOCKERFILE
    if dockerfile_text is None:
        path = Path(dockerfile_path) if dockerfile_path else source / DEFAULT_DOCKERFILE
        if not dockerfile_path and not path.exists() and (source / "dockerfile").exists():
            path = source / "dockerfile"
        try:
            dockerfile_text = path.read_text(errors="replace")
        except FileNotFoundError:
            raise ContextError(
                "unable to prepare context: unable to evaluate symlinks in Dockerfile path:"
                f" lstat {path.absolute()}: no such file or directory"
            ) from None
        except OSError as error:
            raise ContextError(f"unable to prepare context: {error.strerror}: {path}") from None
        try:
            name = str(path.absolute().relative_to(source.absolute()))
        except ValueError:
            name = path.name
    root = _staging(work_dir)
    try:
        modes: dict[str, int] = {}
        size = _copy_included(source, root, name, modes)
        _remove_ignored_build_files(root, name)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return BuildContext(root, dockerfile_text, name, size, modes)


def _copy_included(source: Path, root: Path, dockerfile_name: str, modes: dict[str, int]) -> int:
    """Copy what the docker CLI would send; modes: each sent entry's tar header mode
    (a directory walked only for an exception's sake is not sent: no entry)."""
    matcher = _ignore_matcher(source)
    if matcher is not None:
        keep = [f"!{n}" for n in (".dockerignore", dockerfile_name) if matcher.matches(n)]
        if keep:
            matcher = PatternMatcher([*(p.text if not p.exclusion else "!" + p.text
                                        for p in matcher.patterns), *keep])  # fmt: skip
    size = entries = 0
    source_str = str(source)
    for current, dirs, files in os.walk(source_str):
        rel_dir = os.path.relpath(current, source_str)
        kept_dirs = []
        for name in sorted(dirs):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            full = os.path.join(current, name)
            if os.path.islink(full):
                files.append(name)
                continue
            if matcher is not None and matcher.matches(rel):
                if matcher.has_exclusions and matcher.may_keep_inside(rel):
                    kept_dirs.append(name)
                continue
            _copy_entry(full, root / rel)
            modes[rel] = os.lstat(full).st_mode
            entries += 1
            kept_dirs.append(name)
        dirs[:] = kept_dirs
        for name in sorted(files):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if matcher is not None and matcher.matches(rel):
                continue
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            size += _copy_entry(os.path.join(current, name), target)
            modes[rel] = os.lstat(os.path.join(current, name)).st_mode
            entries += 1
            _check_budget(size, entries)
    return size


def _copy_entry(source: str, target: Path) -> int:
    st = os.lstat(source)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(source), target)
        os.lchown(target, 0, 0)
    elif stat.S_ISDIR(st.st_mode):
        target.mkdir(parents=True, exist_ok=True)
        os.lchown(target, 0, 0)  # before chmod: chown clears setuid and setgid bits
        os.chmod(target, stat.S_IMODE(st.st_mode))
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(source, target, follow_symlinks=False)
        os.lchown(target, 0, 0)
        os.chmod(target, stat.S_IMODE(st.st_mode))
    else:
        return 0  # sockets, fifos and devices are not sent
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def from_tar(
    stream: BinaryIO, dockerfile_name: str | None = None, work_dir: str | None = None
) -> BuildContext:
    """A context tar (plain or compressed) from a stream, or a lone Dockerfile: Docker
    tells them apart by content."""
    head = _peek(stream)
    name = dockerfile_name or DEFAULT_DOCKERFILE
    if not _looks_like_archive(head):
        text = (head + stream.read(MAX_CONTEXT_BYTES)).decode(errors="replace")
        root = _staging(work_dir)
        return BuildContext(root, text, name, len(text))
    root = _staging(work_dir)
    try:
        modes: dict[str, int] = {}
        size = _extract(_Rewound(head, stream), root, modes)
        path = root / name
        if not dockerfile_name and not path.exists() and (root / "dockerfile").exists():
            path = root / "dockerfile"
        resolved = os.path.realpath(path)
        if not resolved.startswith(str(root) + "/") or not os.path.isfile(resolved):
            raise ContextError(f"Cannot locate specified Dockerfile: {name}")
        text = Path(resolved).read_text(errors="replace")
        _remove_ignored_build_files(root, name)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return BuildContext(root, text, name, size, modes)


def _peek(stream: BinaryIO) -> bytes:
    data = b""
    while len(data) < 512:
        chunk = stream.read(512 - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _looks_like_archive(head: bytes) -> bool:
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return True
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


class _Rewound:
    """A stream with bytes already read put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head = head
        self.rest = rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0 or size >= len(self.head):
                data, self.head = self.head, b""
                more = self.rest.read(-1 if size < 0 else size - len(data))
                return data + (more or b"")
            data, self.head = self.head[:size], self.head[size:]
            return data
        return self.rest.read(size)


def _inside(root: Path, name: str) -> Path:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ContextError(f"invalid context entry {name!r}: it points outside the context")
    path = root.joinpath(*parts) if parts else root
    parent = path.parent
    real_parent = os.path.realpath(parent)
    if real_parent != str(root) and not real_parent.startswith(str(root) + "/"):
        raise ContextError(f"invalid context entry {name!r}: it points outside the context")
    return path


def _extract(stream: object, root: Path, modes: dict[str, int]) -> int:
    import tarfile  # tar contexts only (start-up time of a directory build)

    size = entries = 0
    directories: list[tuple[Path, tarfile.TarInfo]] = []
    try:
        tar = tarfile.open(fileobj=stream, mode="r|*")  # type: ignore[call-overload]
    except (tarfile.ReadError, tarfile.CompressionError, EOFError) as error:
        raise ContextError(f"Error processing tar file: {error}") from None
    with tar:
        try:
            for member in tar:
                entries += 1
                size += max(member.size, 0)
                _check_budget(size, entries)
                path = _inside(root, member.name)
                if path == root:
                    continue
                modes[os.path.relpath(path, root)] = member.mode
                path.parent.mkdir(parents=True, exist_ok=True)
                if os.path.lexists(path) and not (member.isdir() and path.is_dir()):
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
                if member.isdir():
                    path.mkdir(exist_ok=True)
                    directories.append((path, member))
                    continue
                if member.isreg():
                    data = tar.extractfile(member)
                    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                    with os.fdopen(os.open(path, flags, 0o600), "wb") as out:
                        assert data is not None
                        shutil.copyfileobj(data, out, 1 << 20)
                elif member.issym():
                    os.symlink(member.linkname, path)
                elif member.islnk():
                    target = _inside(root, member.linkname)
                    if not os.path.isfile(target) or os.path.islink(target):
                        raise ContextError(f"invalid hard link {member.name!r} in the context")
                    os.link(target, path)
                    continue
                else:
                    continue  # devices, fifos: never created from a context
                _attributes(path, member)
        except (tarfile.TarError, EOFError) as error:
            raise ContextError(f"Error processing tar file: {error}") from None
    for path, member in reversed(directories):
        _attributes(path, member)
    return size


def _attributes(path: Path, member: tarfile.TarInfo) -> None:
    os.lchown(path, member.uid, member.gid)
    if not member.issym():
        os.chmod(path, member.mode & 0o7777)
    os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
