"""Start a container's monitor, detached from the calling process."""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys

from dockyard.containers.monitor import Launch, Monitor
from dockyard.datarecord import dataclass
from dockyard.runtime import linux


@dataclass
class Started:
    monitor_pid: int
    client: socket.socket | None  # connected to the monitor when attach was asked


class StartFailed(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def close_other_fds(keep: set[int]) -> None:
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _reset_signals() -> None:
    """Forget the caller's signal handling (an asyncio daemon's wakeup fd, its handlers)."""
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:  # not the main thread of the forked process: nothing was set here
        pass
    for signum in signal.valid_signals():
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(signum, signal.SIG_IGN if signum == signal.SIGPIPE else signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def preload() -> None:
    """Import what the monitor needs, before the fork (a forked child of a threaded
    caller, the daemon, must not import); the commands that only read containers do not
    load these. The daemon's spawner calls it once, so that no start pays for it."""
    import resource  # noqa: F401 - the spec's rlimits
    import subprocess  # noqa: F401 - the runtime's processes
    import termios  # noqa: F401 - console sizes

    linux.load()


def _own_cgroup_procs() -> int | None:
    """An open cgroup.procs of a cgroup this process is in (pids or name=systemd on
    cgroup v1, the unified hierarchy otherwise); None when there is none to write."""
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as lines:
            entries = [line.rstrip("\n").split(":", 2) for line in lines]
    except OSError:
        return None
    candidates = []
    for entry in entries:
        if len(entry) != 3:
            continue
        _, controllers, path = entry
        if controllers in ("pids", "name=systemd"):
            mount = "systemd" if controllers == "name=systemd" else controllers
            candidates.append(f"/sys/fs/cgroup/{mount}{path}")
        elif controllers == "":
            candidates += [f"/sys/fs/cgroup/unified{path}", f"/sys/fs/cgroup{path}"]
    for directory in candidates:
        try:
            return os.open(os.path.join(directory, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            continue
    return None


WARM_INTERVAL = 0.002  # well under one RCU grace period (5-20 ms here)


def wait_ready_warm(ready_fd: int) -> None:
    """Wait until ready_fd is readable, keeping cgroup moves on their fast path meanwhile.

    Moving a process into a cgroup (a write to cgroup.procs) takes the kernel's
    threadgroup lock for writing, and the first writer after a quiet spell waits for an
    RCU grace period: 6-22 ms measured here, more than half of crun's own time, paid by
    its first move of the container's init. A writer that comes within a grace period
    of another passes at once (~0.05 ms). This process is idle until the monitor reports
    the container started: it moves itself into the cgroup it is already in (nothing
    changes) at once, which starts that grace period while the monitor mounts, writes
    the spec and starts the runtime, and again every few milliseconds, so that the
    runtime's moves find the lock warm. Best effort: without a cgroup to write (not
    root, no such hierarchy) it just waits.
    """
    procs = _own_cgroup_procs()
    if procs is None:
        return
    pid = str(os.getpid()).encode()
    try:
        while True:
            try:
                os.write(procs, pid)
            except OSError:
                return
            readable, _, _ = select.select([ready_fd], [], [], WARM_INTERVAL)
            if readable:
                return
    finally:
        os.close(procs)


def start_monitor(launch: Launch, attach: bool, *, fork_twice: bool = True) -> Started:
    """Fork the monitor (setsid + double fork); return once the container runs.

    fork_twice=False is for a caller that is itself a short-lived child made for this
    start (the daemon's spawner forks one per start): its one child is the monitor,
    detached when the caller exits, and one fork of a daemon-sized process is saved.
    Raises StartFailed with the runtime's message when the container cannot start.
    """
    preload()
    ready_r, ready_w = os.pipe()
    client: socket.socket | None = None
    monitor_end: socket.socket | None = None
    if attach:
        client, monitor_end = socket.socketpair()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # first child
        # Collections would walk (and so copy-on-write) every object inherited from
        # the caller: leave those to the caller's copy.
        gc.freeze()
        code = 0
        try:
            os.close(ready_r)
            if client is not None:
                client.close()
            os.setsid()
            if fork_twice and os.fork() != 0:
                os._exit(0)
            _reset_signals()
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            keep = {ready_w}
            if monitor_end is not None:
                keep.add(monitor_end.fileno())
            close_other_fds(keep)
            code = Monitor(launch, ready_w, monitor_end).run()
        except BaseException:  # noqa: BLE001 - never return into the caller's code
            code = 1
            try:
                import traceback

                (launch.container_dir / "monitor.err").write_text(traceback.format_exc())
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(code)
    os.close(ready_w)
    if monitor_end is not None:
        monitor_end.close()
    if fork_twice:
        os.waitpid(pid, 0)  # the first child, gone once the monitor is forked
    wait_ready_warm(ready_r)
    with os.fdopen(ready_r, "rb") as ready:
        line = ready.readline()
    try:
        message = json.loads(line) if line else {}
    except ValueError:
        message = {}
    if not message.get("ok"):
        if client is not None:
            client.close()
        raise StartFailed(
            message.get("error") or "container monitor failed to start",
            int(message.get("exit_code") or 125),
        )
    return Started(int(message.get("pid") or 0), client)
