"""Find and drive an OCI runtime (crun or runc).

crun refuses a hybrid cgroup layout (cgroup v1 controllers plus a cgroup2
hierarchy under /sys/fs/cgroup). Each crun invocation therefore runs in a
private mount namespace in which the cgroup2 mount is detached, so crun sees
a plain cgroup v1 host. runc copes with the hybrid layout as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.datarecord import dataclass, field
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.runtime import linux

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Sequence

STATE_ROOT = Path(os.environ.get("DOCKYARD_RUNTIME_ROOT", "/run/dockyard"))
PREFERENCE = ("crun", "runc")  # fastest first


class RuntimeError_(DockyardError):
    """The OCI runtime failed; the message is the runtime's own."""

    exit_code = 125


def cgroup2_mounts_in_hybrid() -> tuple[str, ...]:
    """cgroup2 mount points when cgroup v1 controllers are mounted too (hybrid layout)."""
    v1 = False
    v2: list[str] = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
            for line in mounts:
                before, _, after = line.partition(" - ")
                fstype = after.split(" ", 1)[0]
                if fstype == "cgroup":
                    v1 = True
                elif fstype == "cgroup2":
                    v2.append(before.split(" ")[4])
    except OSError:
        return ()
    return tuple(v2) if v1 else ()


def _hide_mounts(paths: tuple[str, ...]) -> Callable[[], None]:
    linux.load()  # the hook runs between fork and exec: nothing may be imported there

    def preexec() -> None:
        linux.unshare(linux.CLONE_NEWNS)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
        for path in paths:
            linux.umount(path, linux.MNT_DETACH)

    return preexec


@dataclass(frozen=True)
class Runtime:
    name: str
    path: str
    hide: tuple[str, ...] = ()
    state_root: Path = field(default=STATE_ROOT)
    exe_fd: int = -1  # a sealed in-memory copy of the binary (sealed_copy), run instead of path

    def argv(self, *args: str) -> list[str]:
        program = self.path if self.exe_fd < 0 else f"/proc/self/fd/{self.exe_fd}"
        return [program, "--root", str(self.state_root / self.name), *args]

    @property
    def preexec(self) -> Callable[[], None] | None:
        return _hide_mounts(self.hide) if self.hide else None

    def hide_mounts_here(self) -> Runtime:
        """Hide the mounts in this process's own (new, private) mount namespace once, and
        return the runtime that then needs no per-call namespace: its processes start
        without a preexec hook, which lets subprocess use vfork (a long-lived caller
        with many runtime calls, the container monitor, saves a fork each time)."""
        if self.hide:
            _hide_mounts(self.hide)()
        return Runtime(self.name, self.path, (), self.state_root, self.exe_fd)

    def sealed_copy(self) -> Runtime:
        """The runtime run from a sealed memfd copy of its binary (crun only).

        crun protects its binary against a container overwriting it (CVE-2019-5736):
        unless it already runs from a fully sealed memfd, every call bind-mounts
        /proc/self/exe read-only on a temporary file and executes itself a second time,
        which doubles its start-up (about 1.5 ms of CPU a call here). A caller that makes
        several calls (the container monitor: run, then delete) copies the binary once
        into a memfd with crun's own seals, and crun skips that second start. The copy is
        what crun would make itself: the container still cannot reach the host's binary.
        Falls back to the plain binary when the copy cannot be made.
        """
        if self.name != "crun" or self.exe_fd >= 0:
            return self
        import fcntl

        try:
            fd = os.memfd_create(
                "crun_cloned:/proc/self/exe", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING
            )
        except (AttributeError, OSError):
            return self
        try:
            with open(self.path, "rb") as binary:
                size = os.fstat(binary.fileno()).st_size
                copied = 0
                while copied < size:
                    sent = os.sendfile(fd, binary.fileno(), None, size - copied)
                    if sent <= 0:
                        raise OSError("short copy of the runtime's binary")
                    copied += sent
            seals = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
        except OSError:
            os.close(fd)
            return self
        return Runtime(self.name, self.path, self.hide, self.state_root, fd)

    def popen(self, args: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        import subprocess  # here: only commands that run the runtime need it

        if self.exe_fd >= 0:  # executed through /proc/self/fd: open in the child until exec
            kwargs["pass_fds"] = (*kwargs.get("pass_fds", ()), self.exe_fd)  # type: ignore[misc]
        return subprocess.Popen(self.argv(*args), preexec_fn=self.preexec, **kwargs)  # type: ignore[call-overload]

    def call(self, args: Sequence[str], check: bool = True, **kwargs: object) -> int:
        import subprocess

        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.PIPE)
        proc = self.popen(args, **kwargs)
        _, err = proc.communicate()
        if check and proc.returncode != 0:
            raise RuntimeError_(_runtime_message(self.name, args[0], err))
        return proc.returncode

    # The verbs the engine uses.
    def start(self, cid: str) -> None:
        self.call(["start", cid])

    def kill(self, cid: str, signal: int | str, all_processes: bool = False) -> None:
        self.call(["kill", *(["--all"] if all_processes else []), cid, str(signal)])

    def delete(self, cid: str) -> None:
        self.call(["delete", "--force", cid], check=False)

    def start_delete(self, cid: str) -> subprocess.Popen[bytes]:
        """`delete --force` started, not waited for: the caller overlaps its own clean-up."""
        import subprocess

        devnull = subprocess.DEVNULL
        return self.popen(["delete", "--force", cid], stdin=devnull, stdout=devnull, stderr=devnull)

    def pause(self, cid: str) -> None:
        self.call(["pause", cid])

    def resume(self, cid: str) -> None:
        self.call(["resume", cid])


def _runtime_message(name: str, verb: str, err: bytes | None) -> str:
    text = (err or b"").decode("utf-8", "replace").strip().splitlines()
    detail = text[-1] if text else "unknown error"
    return f"OCI runtime {verb} failed: {name} {verb} failed: {detail}"


def _which(name: str) -> str | None:
    """shutil.which(name) for a bare command name, without importing shutil (start-up time)."""
    path = os.environ.get("PATH")
    if path is None:
        try:
            path = os.confstr("CS_PATH") or os.defpath
        except (AttributeError, ValueError):
            path = os.defpath
    if not path:
        return None
    seen = set()
    for directory in path.split(os.pathsep):
        if directory in seen:
            continue
        seen.add(directory)
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def available() -> dict[str, str]:
    """Installed runtimes by name -> path, in order of preference."""
    found = {}
    for name in PREFERENCE:
        path = _which(name)
        if path:
            found[name] = path
    return found


def get_runtime(name: str | None = None) -> Runtime:
    """The runtime called name, or the preferred installed one ($DOCKYARD_RUNTIME)."""
    name = name or os.environ.get("DOCKYARD_RUNTIME") or None
    found = available()
    if name is None:
        if not found:
            raise RuntimeError_("no OCI runtime found: install crun or runc")
        name = next(iter(found))
    if name not in found:
        raise InvalidArgument(f"unknown or invalid runtime name: {name}")
    hide = cgroup2_mounts_in_hybrid() if name == "crun" else ()
    return Runtime(name, found[name], hide)
