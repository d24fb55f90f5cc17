"""Confined access to a directory tree: every path is resolved relative to a
directory file descriptor without following any symlink (openat2 with
RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or one component at a time where openat2
is missing), so no name from an archive can reach outside the root."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import stat

_O_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_COMPONENT_FLAGS = _O_PATH_DIR | os.O_NOFOLLOW

_SYS_OPENAT2 = 437  # the same number on every Linux architecture
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_openat2_works = True


def openat2_beneath(dir_fd: int, path: bytes, flags: int) -> int:
    """openat2(dir_fd, path) refusing symlinks anywhere and escapes; raises
    OSError. Raises NotImplementedError when the kernel lacks openat2."""
    global _openat2_works
    if not _openat2_works:
        raise NotImplementedError
    how = _OpenHow(flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS)
    fd = _syscall(
        ctypes.c_long(_SYS_OPENAT2),
        ctypes.c_int(dir_fd),
        ctypes.c_char_p(path),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd < 0:
        code = ctypes.get_errno()
        if code in (errno.ENOSYS, errno.EPERM) and _openat2_works:
            # ENOSYS: kernel < 5.6; EPERM: a seccomp filter refusing it.
            _openat2_works = False
            raise NotImplementedError
        raise OSError(code, os.strerror(code))
    return fd


class Refused(Exception):
    """A path that would leave the tree or cannot be resolved inside it."""


def split_name(raw: bytes) -> list[bytes]:
    """Components of an archive member name; ``./`` prefixes and empty or ``.``
    components are dropped. Absolute names and ``..`` are refused."""
    if raw.startswith(b"/"):
        raise Refused("absolute path")
    parts = [part for part in raw.split(b"/") if part and part != b"."]
    if b".." in parts:
        raise Refused("path contains '..'")
    return parts


def display(parts: list[bytes] | tuple[bytes, ...]) -> str:
    return b"/".join(parts).decode("utf-8", "backslashreplace")


class Tree:
    """A root directory and confined lookups under it.

    ``parent_fd`` caches the directory of the previous lookup: archives list
    members of one directory together, so most lookups are a tuple compare.
    """

    def __init__(self, root: os.PathLike | str) -> None:
        self.root_fd = os.open(root, _O_PATH_DIR)
        self._cached_key: list[bytes] = []
        self._cached_fd = self.root_fd

    def close(self) -> None:
        self._forget()
        os.close(self.root_fd)

    def _forget(self) -> None:
        if self._cached_fd != self.root_fd:
            os.close(self._cached_fd)
        self._cached_key = []
        self._cached_fd = self.root_fd

    def open_dir(self, dirs: list[bytes] | tuple[bytes, ...], flags: int = _O_PATH_DIR) -> int:
        """A new fd (caller closes it) of the existing directory ``dirs``, or an
        OSError (ENOENT, ENOTDIR, ELOOP, EXDEV...)."""
        if not dirs:
            return os.open(".", flags | os.O_DIRECTORY, dir_fd=self.root_fd)
        try:
            return openat2_beneath(self.root_fd, b"/".join(dirs), flags | os.O_DIRECTORY)
        except NotImplementedError:
            fd = self.walk(list(dirs[:-1]), create=False)
            try:
                return os.open(dirs[-1], flags | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            finally:
                os.close(fd)

    def _open_child(self, fd: int, name: bytes, create: bool, where: list[bytes]) -> int:
        try:
            return os.open(name, _COMPONENT_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            if not create:
                raise Refused(f"{display(where)!r} does not exist") from None
            os.mkdir(name, 0o755, dir_fd=fd)
            child = os.open(name, _COMPONENT_FLAGS, dir_fd=fd)
            # mkdir is subject to the umask; implicit parents get 0755 like Docker's.
            os.chmod(f"/proc/self/fd/{child}", 0o755)
            return child
        except OSError as error:
            if error.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            try:
                info = os.lstat(name, dir_fd=fd)
            except OSError:
                info = None
            if info is not None and stat.S_ISLNK(info.st_mode):
                raise Refused(f"path goes through the symlink {display(where)!r}") from None
            raise Refused(f"{display(where)!r} is not a directory") from None

    def walk(self, dirs: list[bytes], create: bool) -> int:
        """A new O_PATH fd of the directory ``dirs`` (caller closes it), resolved
        one component at a time; missing directories are made when ``create``.
        Raises Refused naming the component that is a symlink or not a dir."""
        fd = os.dup(self.root_fd)
        try:
            for depth, name in enumerate(dirs):
                child = self._open_child(fd, name, create, dirs[: depth + 1])
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def lookup(self, dirs: list[bytes], create: bool) -> int:
        """Like walk, in one openat2 call when the directory already exists."""
        if dirs:
            try:
                return openat2_beneath(self.root_fd, b"/".join(dirs), _O_PATH_DIR)
            except (OSError, NotImplementedError):
                pass  # missing, or refused: walk to create it or to say why
        return self.walk(dirs, create)

    def parent_fd(self, parts: list[bytes], create: bool = True) -> int:
        """The (cached, not to be closed) fd of the directory holding ``parts[-1]``."""
        key = parts[:-1]
        if key != self._cached_key:
            fd = self.lookup(key, create)
            self._forget()
            self._cached_key, self._cached_fd = key, fd
        return self._cached_fd

    @staticmethod
    def clear(parent: int, name: bytes, keep_dir: bool) -> bool:
        """Make room for ``name``: remove what is there, except a directory when
        ``keep_dir``. Returns True when a directory was kept."""
        try:
            info = os.lstat(name, dir_fd=parent)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(info.st_mode):
            if keep_dir:
                return True
            # fd-based removal: rmtree with dir_fd never follows symlinks.
            shutil.rmtree(name, dir_fd=parent)
        else:
            os.unlink(name, dir_fd=parent)
        return False
