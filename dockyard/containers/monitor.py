"""The monitor: one small process per started container.

It is forked from the dockyard command that starts the container and
detaches from it (setsid + double fork), so `run -d` returns at once. It
mounts the rootfs, writes the OCI bundle, runs `<runtime> create` and
`start` as a child subreaper (so the container's init becomes its child),
holds the container's stdio, writes the json-file log, serves attach clients
on <container dir>/attach.sock, and at exit records the exit code and
finish time, deletes the runtime's state, unmounts the rootfs and, with
--rm, removes the container.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import selectors
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

from dockyard.containers import record as records
from dockyard.datarecord import dataclass, field
from dockyard.runtime import etcfiles, linux, rootfs, seccomp, stream
from dockyard.runtime.jsonlog import LogWriter
from dockyard.runtime.ocirt import STATE_ROOT, Runtime, get_runtime
from dockyard.runtime.procenv import container_env
from dockyard.runtime.spec import (
    DEFAULT_CAPS,
    Bind,
    ContainerSpec,
    ProcessSpec,
    build_spec,
    init_binary,
)
from dockyard.runtime.state import ContainerState, read_state, write_json_atomic, write_state
from dockyard.runtime.users import resolve_user
from dockyard.timeutil import now_rfc3339

DRAIN_SECONDS = 2.0
REAP_SECONDS = 60.0  # how long an exited init may stay the runtime helper's child
REAP_POLL_SECONDS = 0.002


@dataclass
class Launch:
    container_dir: Path
    store_root: Path
    console_size: tuple[int, int] | None = None  # (rows, cols)
    attach_stdin: bool = False
    attach_stdout: bool = True
    attach_stderr: bool = True


class StartError(Exception):
    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Client:
    sock: socket.socket
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    hello: bool = False
    reader: stream.FrameReader = field(default_factory=stream.FrameReader)


def _traceback() -> str:
    import traceback  # only on a failure: it costs ~4 ms of start-up

    return traceback.format_exc()


def exec_error_code(message: str) -> int:
    """Docker's exit codes for a process that cannot be started: 127 not found, 126 not runnable."""
    lowered = message.lower()
    if "not found" in lowered or "no such file" in lowered:
        return 127
    if "permission denied" in lowered or "is a directory" in lowered or "exec format" in lowered:
        return 126
    return 125


def set_winsize(fd: int, rows: int, cols: int) -> None:
    import termios  # only for a terminal (start-up time)

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Monitor:
    def __init__(self, launch: Launch, ready_fd: int, first_client: socket.socket | None) -> None:
        self.launch = launch
        self.dir = launch.container_dir
        self.ready_fd = ready_fd
        self.record = records.load(self.dir)
        self.cid = self.record.id
        self.clients: list[Client] = []
        if first_client is not None:
            self.clients.append(
                Client(
                    first_client,
                    launch.attach_stdin,
                    launch.attach_stdout,
                    launch.attach_stderr,
                    hello=True,
                )
            )
        self.selector = selectors.DefaultSelector()
        self.stdin_fd: int | None = None
        self.stdin_pending = b""
        self.master_fd: int | None = None
        self.out_fds: dict[int, str] = {}
        self.init_pid = 0
        self.exit_code: int | None = None
        self.runtime: Runtime | None = None
        self.created = False
        self.log: LogWriter | None = None
        self.listener: socket.socket | None = None
        self.host_mount_ns: int | None = None  # set while the monitor is in a private one
        self.deleting: subprocess.Popen[bytes] | None = None  # the runtime's delete, running

    # ------------------------------------------------------------ start

    def _report(self, message: dict) -> None:
        if self.ready_fd >= 0:
            try:
                os.write(self.ready_fd, json.dumps(message).encode() + b"\n")
            except OSError:
                pass
            os.close(self.ready_fd)
            self.ready_fd = -1

    def _spec(self, merged: Path) -> dict:
        rec = self.record
        config = rec.config
        user = resolve_user(str(merged), config.get("User") or "")
        hostname = config.get("Hostname") or rec.id[:12]
        process = ProcessSpec(
            args=rec.command,
            env=container_env(config.get("Env") or [], hostname, rec.tty, user),
            cwd=config.get("WorkingDir") or "/",
            uid=user.uid,
            gid=user.gid,
            additional_gids=user.additional_gids,
            terminal=rec.tty,
            console_size=self.launch.console_size,
        )
        binds = []
        for bind in rec.host_config.get("Binds") or []:
            parts = bind.split(":")
            binds.append(Bind(parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
        init_path = None
        if rec.host_config.get("Init"):
            init_path = init_binary()
            if init_path is None:
                raise StartError(
                    'exec: "docker-init": executable file not found in $PATH'
                    " (install Debian's tini package: /usr/bin/tini-static)",
                    127,
                )
        try:
            seccomp_profile = seccomp.profile_for(
                rec.host_config.get("SecurityOpt"), list(DEFAULT_CAPS)
            )
        except seccomp.ProfileError as error:
            raise StartError(str(error)) from None
        spec = ContainerSpec(
            process=process,
            rootfs=str(merged),
            hostname=hostname,
            network=rec.network,
            readonly_rootfs=bool(rec.host_config.get("ReadonlyRootfs")),
            hosts_path=str(self.dir / "hosts"),
            hostname_path=str(self.dir / "hostname"),
            resolv_path=str(self.dir / "resolv.conf"),
            binds=binds,
            cgroups_path=f"/dockyard/{rec.id}",
            init_path=init_path,
            seccomp=seccomp_profile,
        )
        return build_spec(spec)

    def _start(self) -> None:
        rec = self.record
        with open(self.dir / "lock", "a+b") as lock:  # `cp` into a stopped container holds it
            fcntl.flock(lock, fcntl.LOCK_EX)
            if rec.host_config.get("Init"):
                rootfs.prepare_init_mountpoint(self.dir)
            merged = rootfs.mount(self.dir)
        etcfiles.write_all(self.dir, rec.config.get("Hostname") or rec.id[:12], rec.network)
        try:
            spec = self._spec(merged)
        except StartError:
            raise
        except Exception as error:
            raise StartError(str(error), getattr(error, "exit_code", 125)) from None
        write_json_atomic(self.dir / "config.json", spec)
        runtime = get_runtime(rec.host_config.get("Runtime") or None).sealed_copy()
        (runtime.state_root / runtime.name).mkdir(parents=True, exist_ok=True)
        if runtime.hide:
            # The rootfs is mounted in the host's namespace above; the runtime's calls
            # all run in a private one from here on, the host's kept for the teardown.
            self.host_mount_ns = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
            runtime = runtime.hide_mounts_here()
        self.runtime = runtime
        self.listener = stream.listen(self.dir)
        self.log = LogWriter(self.dir / f"{rec.id}-json.log")
        pid_file = self.dir / "init.pid"
        pid_file.unlink(missing_ok=True)
        # `run --detach` is create + start in one runtime call; as a child subreaper the
        # monitor inherits the container's init when the runtime exits.
        args = ["run", "--detach", "--bundle", str(self.dir), "--pid-file", str(pid_file)]
        err_r, err_w = os.pipe()
        console: socket.socket | None = None
        console_path = ""
        child_fds: list[int] = [err_w]
        if rec.tty:
            console_dir = STATE_ROOT / "console"
            console_dir.mkdir(parents=True, exist_ok=True)
            console_path = str(console_dir / f"{rec.id[:16]}-{os.getpid()}.sock")
            console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            console.bind(console_path)
            console.listen(1)
            args += ["--console-socket", console_path]
            null = os.open(os.devnull, os.O_RDWR)
            child_fds.append(null)
            stdio = (null, null, err_w)
        else:
            if rec.open_stdin:
                in_r, in_w = os.pipe()
                self.stdin_fd = in_w
                os.set_blocking(in_w, False)
            else:
                in_r = os.open(os.devnull, os.O_RDONLY)
            out_r, out_w = os.pipe()
            stdio = (in_r, out_w, err_w)
            child_fds += [in_r, out_w]
            self.out_fds = {out_r: "stdout", err_r: "stderr"}
        args.append(rec.id)
        try:
            proc = self.runtime.popen(args, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2])
            for fd in child_fds:
                os.close(fd)
            # The teardown removes trees with shutil (~5 ms to import): imported while
            # the runtime starts the container, not after a short one has exited.
            import shutil  # noqa: F401

            code = proc.wait()
            if code != 0:
                os.set_blocking(err_r, False)
                try:
                    message = os.read(err_r, 65536).decode("utf-8", "replace")
                except BlockingIOError:
                    message = ""
                detail = message.strip().splitlines()[-1] if message.strip() else "unknown error"
                logged = re.search(r'msg="((?:[^"\\]|\\.)*)"', detail)  # runc's logrus line
                if logged:
                    detail = logged.group(1).replace('\\"', '"')
                    detail = detail.removeprefix("runc run failed: ").removeprefix(
                        "runc create failed: "
                    )
                raise StartError(
                    f"failed to create task: OCI runtime create failed: {self.runtime.name} create failed: {detail}: unknown",
                    exec_error_code(detail),
                )
            self.created = True
            self.init_pid = int(pid_file.read_text().strip())
            if console is not None:
                console.settimeout(5)
                conn, _ = console.accept()
                with conn:
                    _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
                if not fds:
                    raise StartError("no console received from the runtime")
                self.master_fd = fds[0]
                if self.launch.console_size:
                    set_winsize(self.master_fd, *self.launch.console_size)
                self.out_fds = {self.master_fd: "stdout"}
                self.stdin_fd = self.master_fd
                os.close(err_r)
        finally:
            if console is not None:
                console.close()
                try:
                    os.unlink(console_path)
                except OSError:
                    pass

    # ------------------------------------------------------------ loop

    def _broadcast(self, stream_name: str, data: bytes) -> None:
        kind = stream.STDOUT if stream_name == "stdout" else stream.STDERR
        payload = stream.frame(kind, data)
        for client in list(self.clients):
            wanted = client.stdout if kind == stream.STDOUT else client.stderr
            if not wanted:
                continue
            try:
                client.sock.sendall(payload)
            except OSError:
                self._drop(client)

    def _drop(self, client: Client) -> None:
        if client in self.clients:
            self.clients.remove(client)
            try:
                self.selector.unregister(client.sock)
            except (KeyError, ValueError):
                pass
            client.sock.close()
            if client.stdin and self.record.config.get("StdinOnce") and not self.record.tty:
                self._close_stdin()

    def _close_stdin(self) -> None:
        if self.stdin_fd is not None and self.stdin_fd != self.master_fd:
            try:
                self.selector.unregister(self.stdin_fd)
            except (KeyError, ValueError):
                pass
            os.close(self.stdin_fd)
            self.stdin_fd = None
            self.stdin_pending = b""

    def _write_stdin(self, data: bytes) -> None:
        if self.stdin_fd is None:
            return
        self.stdin_pending += data
        self._flush_stdin()

    def _flush_stdin(self) -> None:
        if self.stdin_fd is None:
            return
        while self.stdin_pending:
            try:
                written = os.write(self.stdin_fd, self.stdin_pending)
            except BlockingIOError:
                break
            except OSError:
                self.stdin_pending = b""
                self._close_stdin()
                return
            self.stdin_pending = self.stdin_pending[written:]
        if self.stdin_fd == self.master_fd:
            return  # the master is also an output fd; pending input is retried on next input
        try:
            if self.stdin_pending:
                self.selector.register(self.stdin_fd, selectors.EVENT_WRITE, "stdin")
            else:
                self.selector.unregister(self.stdin_fd)
        except (KeyError, ValueError):
            pass
        if not self.stdin_pending and getattr(self, "_stdin_close_requested", False):
            self._close_stdin()

    def _on_client(self, client: Client) -> None:
        try:
            data = client.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        try:
            frames = client.reader.feed(data)
        except ValueError:
            self._drop(client)
            return
        for kind, payload in frames:
            if kind == stream.STDIN and client.stdin:
                self._write_stdin(payload)
            elif kind == stream.CONTROL:
                self._on_control(client, payload)

    def _on_control(self, client: Client, payload: bytes) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        kind = message.get("type")
        if kind == "hello":
            client.stdin = bool(message.get("stdin")) and self.stdin_fd is not None
            client.stdout = bool(message.get("stdout"))
            client.stderr = bool(message.get("stderr"))
            client.hello = True
        elif kind == "resize" and self.master_fd is not None:
            try:
                set_winsize(self.master_fd, int(message["height"]), int(message["width"]))
            except (OSError, KeyError, ValueError):
                pass
        elif kind == "signal" and self.init_pid and self.exit_code is None:
            try:
                os.kill(self.init_pid, int(message.get("signal", signal.SIGTERM)))
            except (OSError, ValueError):
                pass
        elif kind in ("pause", "resume"):
            error = self._set_paused(kind == "pause")
            try:
                client.sock.sendall(stream.control({"type": f"{kind}-result", "error": error}))
            except OSError:
                self._drop(client)
        elif kind == "close-stdin" and client.stdin and not self.record.tty:
            self._stdin_close_requested = True
            if not self.stdin_pending:
                self._close_stdin()

    def _set_paused(self, pause: bool) -> str:
        """Freeze or thaw the container (the runtime's freezer) and record it; an error or ""."""
        if self.exit_code is not None or self.runtime is None or not self.created:
            return f"Container {self.cid} is not running"
        state = read_state(self.dir)
        if pause and state.paused:
            return f"Container {self.cid} is already paused"
        if not pause and not state.paused:
            return f"Container {self.cid} is not paused"
        try:
            if pause:
                self.runtime.pause(self.cid)
            else:
                self.runtime.resume(self.cid)
        except Exception as error:  # noqa: BLE001 - the runtime's message goes to the caller
            verb = "pause" if pause else "unpause"
            return f"Cannot {verb} container {self.cid}: {error}"
        state.status = "paused" if pause else "running"
        write_state(self.dir, state)
        return ""

    def _read_output(self, fd: int) -> int:
        """Read one chunk: its size, 0 at EOF, -1 when nothing is there now."""
        try:
            data = os.read(fd, 65536)
        except OSError as error:
            if error.errno in (errno.EAGAIN,):
                return -1
            data = b""  # EIO on the pty master once the container side is closed
        if not data:
            try:
                self.selector.unregister(fd)
            except (KeyError, ValueError):
                pass
            self.out_fds.pop(fd, None)
            return 0
        name = self.out_fds[fd]
        if self.log is not None:
            self.log.write(name, data)
        self._broadcast(name, data)
        return len(data)

    def _drain_available(self, limit: int = 16 << 20) -> None:
        """Read what is already in the output pipes when the drain deadline has passed.

        On a loaded machine the monitor can be kept off the CPU past the deadline
        while the container's last output is still in the pipe; it is not lost.
        """
        for fd in list(self.out_fds):
            budget = limit
            while budget > 0 and fd in self.out_fds:
                size = self._read_output(fd)
                if size <= 0:
                    break
                budget -= size

    def _loop(self) -> int:
        pidfd = os.pidfd_open(self.init_pid)
        self.selector.register(pidfd, selectors.EVENT_READ, "exit")
        assert self.listener is not None
        self.selector.register(self.listener, selectors.EVENT_READ, "listen")
        for fd in self.out_fds:
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, "out")
        for client in self.clients:
            self.selector.register(client.sock, selectors.EVENT_READ, client)
        status: int | None = None
        deadline = None
        reap_deadline: float | None = None  # set once the init has exited
        while True:
            if status is None and reap_deadline is not None:
                status = self._collect_init()
                if status is None and time.monotonic() > reap_deadline:
                    raise RuntimeError(f"exited init {self.init_pid} never became reapable")
                if status is not None:
                    deadline = time.monotonic() + DRAIN_SECONDS
            if status is not None and (not self.out_fds or time.monotonic() > deadline):
                break
            if status is None and reap_deadline is not None:
                timeout: float | None = REAP_POLL_SECONDS
            else:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            for key, _ in self.selector.select(timeout):
                tag = key.data
                if tag == "exit":
                    # Reaped at the top of the loop, once it is our child.
                    self.selector.unregister(pidfd)
                    os.close(pidfd)
                    reap_deadline = time.monotonic() + REAP_SECONDS
                elif tag == "listen":
                    conn, _ = self.listener.accept()
                    client = Client(conn)
                    self.clients.append(client)
                    self.selector.register(conn, selectors.EVENT_READ, client)
                elif tag == "out":
                    self._read_output(key.fd)
                elif tag == "stdin":
                    self._flush_stdin()
                elif isinstance(tag, Client):
                    self._on_client(tag)
            if status is not None:
                _reap_others()
        self._drain_available()
        return status

    def _collect_init(self) -> int | None:
        """The init's exit code if it has exited and is ours to reap, else None.

        The init is not always our child when it exits: crun's `run --detach` returns
        as soon as its double-forked helper reports the container started, and the init
        stays that helper's child until the helper exits a moment later. An init that
        exits in between (`true` under load) is reparented to us, the subreaper, only
        then; until that, waitpid says ECHILD.
        """
        try:
            pid, wait_status = os.waitpid(self.init_pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == 0:
            return None
        code = os.waitstatus_to_exitcode(wait_status)
        self.exit_code = 128 - code if code < 0 else code
        return self.exit_code

    def _kill_and_collect_init(self) -> int:
        """After a failure of the loop: make sure the init is gone, and its exit code."""
        if self.exit_code is not None:  # already reaped: its pid may be someone else's now
            return self.exit_code
        try:
            os.kill(self.init_pid, signal.SIGKILL)
        except OSError:
            pass
        deadline = time.monotonic() + REAP_SECONDS
        while time.monotonic() < deadline:
            code = self._collect_init()
            if code is not None:
                return code
            time.sleep(REAP_POLL_SECONDS)
        return 255

    # ------------------------------------------------------------ run

    def run(self) -> int:
        linux.set_child_subreaper()
        for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_IGN)
        previous = read_state(self.dir)
        state = ContainerState(
            status="created",
            monitor_pid=os.getpid(),
            restart_count=previous.restart_count,
            started_at=previous.started_at,
            finished_at=previous.finished_at,
            exit_code=previous.exit_code,
        )
        try:
            self._start()
        except Exception as error:  # noqa: BLE001 - every failure is reported to the starter
            code = getattr(error, "exit_code", 125)
            message = str(error) if isinstance(error, StartError) else f"{error}"
            if not isinstance(error, StartError):
                (self.dir / "monitor.err").write_text(_traceback())
            state.status = "created" if not self.created else "exited"
            state.exit_code = code if isinstance(code, int) else 125
            state.error = message
            state.monitor_pid = 0
            self._teardown()
            self._await_delete()
            write_state(self.dir, state)
            self._report({"ok": False, "error": message, "exit_code": state.exit_code})
            self._finish_clients({"type": "exit", "code": state.exit_code, "error": message})
            return 1
        state.status = "running"
        state.pid = self.init_pid
        state.started_at = now_rfc3339()
        state.error = ""
        write_state(self.dir, state)
        self._report({"ok": True, "pid": self.init_pid})
        try:
            code = self._loop()
        except Exception:  # noqa: BLE001 - never leave a container without its monitor's cleanup
            (self.dir / "monitor.err").write_text(_traceback())
            code = self._kill_and_collect_init()
        state = read_state(self.dir)
        state.status = "exited"
        state.pid = 0
        state.exit_code = code
        state.finished_at = now_rfc3339()
        state.monitor_pid = 0
        self._teardown()
        if self.record.host_config.get("AutoRemove"):
            self._auto_remove()  # while the runtime deletes its state (two cores)
            self._await_delete()
        else:
            self._await_delete()  # a start right after the recorded exit finds no leftover
            write_state(self.dir, state)
        self._finish_clients({"type": "exit", "code": code})
        return 0

    def _teardown(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None
        if self.runtime is not None and self.created:
            try:
                self.deleting = self.runtime.start_delete(self.record.id)
            except OSError:
                self.runtime.delete(self.record.id)
        for fd in list(self.out_fds):
            os.close(fd)
        self.out_fds = {}
        if self.stdin_fd is not None and self.stdin_fd != self.master_fd:
            os.close(self.stdin_fd)
        if self.master_fd is not None:
            os.close(self.master_fd)
        self.stdin_fd = self.master_fd = None
        if self.host_mount_ns is not None:
            try:
                linux.umount(self.dir / "merged", linux.MNT_DETACH)  # this namespace's copy
            except OSError:
                pass
            linux.setns(self.host_mount_ns, linux.CLONE_NEWNS)
            os.close(self.host_mount_ns)
            self.host_mount_ns = None
        rootfs.unmount(self.dir / "merged")
        if self.listener is not None:
            self.listener.close()
            try:
                os.unlink(self.dir / "attach.sock")
            except OSError:
                pass

    def _await_delete(self) -> None:
        """Wait for the runtime's `delete` that _teardown started."""
        if self.deleting is not None:
            self.deleting.wait()
            self.deleting = None

    def _auto_remove(self) -> None:
        from dockyard.store import Store

        store = Store.open(self.launch.store_root)
        try:
            store.remove_container(self.record.id)
        finally:
            store.close()
        rootfs.remove(self.dir)

    def _finish_clients(self, message: dict) -> None:
        for client in self.clients:
            try:
                client.sock.sendall(stream.control(message))
            except OSError:
                pass
            client.sock.close()
        self.clients = []


def _reap_others() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
