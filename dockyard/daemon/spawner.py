"""Start container monitors from a clean process.

A container's monitor is forked (it must outlive the daemon and keep the
container's stdio). Forking it straight from the daemon would hand it the
daemon's threads' state, SQLite's included: the monitor of an --rm container
opens the store to remove it, and SQLite's per-process lock bookkeeping
copied from the daemon's live connections makes that hang. So the daemon
forks one small "spawner" process at start-up, before any thread or database
connection exists; for each start it passes the spawner a request and one end
of a fresh socketpair, the spawner forks a single-threaded child that forks
the monitor (spawn.start_monitor) and sends back the result and the monitor
connection's file descriptor.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from dockyard.containers.monitor import Launch
from dockyard.containers.spawn import StartFailed, close_other_fds, preload, start_monitor

MAX_MESSAGE = 65536


def _send_with_fds(sock: socket.socket, payload: dict[str, Any], fds: list[int]) -> None:
    data = json.dumps(payload).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.sendall(data)


def _recv_with_fds(
    sock: socket.socket, max_fds: int = 1
) -> tuple[dict[str, Any] | None, list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, max_fds)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return json.loads(data), fds


# ---------------------------------------------------------------- the spawner process


def _handle(request: dict[str, Any], reply: socket.socket) -> None:
    """In a child of the spawner: start the monitor, send the result and its socket."""
    size = request.get("console_size")
    launch = Launch(
        Path(request["directory"]),
        Path(request["store_root"]),
        console_size=tuple(size) if size else None,  # type: ignore[arg-type]
        attach_stdin=bool(request.get("stdin")),
        attach_stdout=True,
        attach_stderr=True,
    )
    try:
        started = start_monitor(launch, attach=True, fork_twice=False)  # this child exits next
    except StartFailed as error:
        _send_with_fds(reply, {"ok": False, "error": str(error), "exit_code": error.exit_code}, [])
        return
    except Exception as error:  # noqa: BLE001 - reported to the daemon
        _send_with_fds(reply, {"ok": False, "error": f"{error}", "exit_code": 125}, [])
        return
    assert started.client is not None
    _send_with_fds(
        reply, {"ok": True, "monitor_pid": started.monitor_pid}, [started.client.fileno()]
    )
    started.client.close()


def _serve(control: socket.socket) -> None:
    preload()  # once here, not in every start's child
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handler children reap themselves
    while True:
        try:
            request, fds = _recv_with_fds(control)
        except OSError:
            return
        if request is None:
            return  # the daemon is gone
        if not fds:
            continue
        reply = socket.socket(fileno=fds[0])
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                control.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # start_monitor waits for its child
                _handle(request, reply)
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        reply.close()


# ---------------------------------------------------------------- the daemon's side


class Spawner:
    def __init__(self, control: socket.socket, pid: int) -> None:
        self.control = control
        self.pid = pid
        self.lock = threading.Lock()

    @classmethod
    def fork(cls) -> Spawner:
        """Fork the spawner; call while the daemon has no threads and no database open."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                ours.close()
                os.setsid()
                close_other_fds({theirs.fileno()})
                _serve(theirs)
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        theirs.close()
        ours.set_inheritable(False)
        return cls(ours, pid)

    async def _request(
        self, request: dict[str, Any]
    ) -> tuple[dict[str, Any], socket.socket | None]:
        """Send the request and await the spawner's reply on the event loop (no worker
        thread: a thread hand-off each way costs a scheduler round trip when busy)."""
        loop = asyncio.get_running_loop()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            try:
                with self.lock:  # a small datagram: the spawner's buffer takes it at once
                    _send_with_fds(self.control, request, [theirs.fileno()])
            finally:
                theirs.close()
            mine.setblocking(False)
            answered = loop.create_future()

            def readable() -> None:
                if not answered.done():
                    answered.set_result(None)

            loop.add_reader(mine.fileno(), readable)
            try:
                await answered
            finally:
                loop.remove_reader(mine.fileno())
            reply, fds = _recv_with_fds(mine)
        finally:
            mine.close()
        if reply is None:
            raise OSError("the spawner process went away")
        client = socket.socket(fileno=fds[0]) if fds else None
        return reply, client

    async def start(
        self,
        directory: Path,
        store_root: Path,
        *,
        stdin: bool,
        console_size: tuple[int, int] | None = None,
    ) -> tuple[dict[str, Any], socket.socket | None]:
        request = {
            "directory": str(directory),
            "store_root": str(store_root),
            "stdin": stdin,
            "console_size": list(console_size) if console_size else None,
        }
        return await self._request(request)

    def close(self) -> None:
        try:
            self.control.close()
        except OSError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
