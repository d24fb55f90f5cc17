"""Containers as the daemon sees them: attach before start, exit codes, wait.

`docker run` attaches to a container that is only created, waits for its
next exit and then starts it. The hub keeps such attach sessions until the
container is started through this daemon; the start keeps a connection to
the container's monitor from the first byte of output, fans the output out
to those sessions and learns the exit code (even of --rm containers, whose
state is gone once they are removed). Containers started elsewhere (the
dockyard CLI on the same store) are waited for through their monitor's
socket, or by watching their state file.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.containers.lifecycle import ContainerStartError
from dockyard.daemon import workers
from dockyard.daemon.events import EventBus
from dockyard.daemon.monitorclient import MonitorConnection, exit_code_of, send_control, wait_exit
from dockyard.daemon.session import AttachSession
from dockyard.runtime import stream
from dockyard.runtime.state import read_state

log = logging.getLogger("dockyard.daemon")
POLL_SECONDS = 0.25


@dataclass
class Exit:
    code: int
    error: str = ""


@dataclass
class Running:
    """A container this daemon started and still watches."""

    cid: str
    directory: Path
    connection: MonitorConnection
    sessions: list[AttachSession] = field(default_factory=list)
    exited: asyncio.Future[Exit] | None = None
    task: asyncio.Task[None] | None = None
    stdin_open: bool = True


class Hub:
    def __init__(self, events: EventBus) -> None:
        self.events = events
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: dict[str, list[AttachSession]] = {}
        self.running: dict[str, Running] = {}
        self.exit_waiters: dict[str, list[asyncio.Future[Exit]]] = {}
        self.watchers: dict[str, asyncio.Task[None]] = {}
        self.spawner: Any = None
        self.sessions: set[AttachSession] = set()  # every live attach session
        self.start_locks: dict[str, asyncio.Lock] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    # ------------------------------------------------------------ attach before start

    def add_pending(self, cid: str, session: AttachSession) -> None:
        self.pending.setdefault(cid, []).append(session)

        def forget(_task: Any = None) -> None:
            sessions = self.pending.get(cid)
            if sessions and session in sessions:
                sessions.remove(session)
                if not sessions:
                    del self.pending[cid]

        asyncio.ensure_future(self._forget_when_done(session, forget))

    async def _forget_when_done(self, session: AttachSession, forget: Any) -> None:
        await session.done.wait()
        forget()

    # ------------------------------------------------------------ start

    async def start(self, name: str) -> tuple[bool, Any]:
        """Start the container; (False, record) when it was already running."""
        # Short reads of the store (a row, two small files): on the loop's thread, where a
        # worker's round trip would cost more than the read (workers.on_loop_thread).
        record = workers.on_loop_thread(lambda engine: engine.containers.get(name))
        lock = self.start_locks.setdefault(record.id, asyncio.Lock())
        async with lock:  # two starts of one container at once: one runs it
            return await self._start(name)

    async def _start(self, name: str) -> tuple[bool, Any]:
        def look(engine: Any) -> tuple[Any, Any, bool]:
            record, directory = engine.containers.find(name)
            return record, directory, read_state(directory).running

        record, directory, running_now = workers.on_loop_thread(look)
        if running_now or record.id in self.running:
            return False, record
        sessions = self.pending.get(record.id, [])
        wants_stdin = record.open_stdin and any(s.stdin for s in sessions)
        size = record.host_config.get("ConsoleSize") or [0, 0]
        console_size = (int(size[0]), int(size[1])) if record.tty and all(size) else None
        assert self.spawner is not None
        reply, client = await self.spawner.start(
            directory, workers.root(), stdin=wants_stdin, console_size=console_size
        )
        if not reply.get("ok") or client is None:
            error = ContainerStartError(
                reply.get("error") or "container monitor failed to start",
                int(reply.get("exit_code") or 125),
            )
            await self._start_failed(record, error)
            raise error
        connection = await MonitorConnection.from_socket(client)
        sessions = self.pending.pop(record.id, [])
        running = Running(record.id, directory, connection, sessions)
        running.exited = asyncio.get_running_loop().create_future()
        self.running[record.id] = running
        for session in sessions:
            session.start_input(connection.stdin, self._closer(running))
        running.task = asyncio.ensure_future(self._relay(running, record))
        self.events.publish("container", "start", record.id, _attributes(record))
        return True, record

    async def _start_failed(self, record: Any, error: Any) -> None:
        """Like Docker: the attach sessions end, waiters get the exit code, --rm removes."""
        for session in self.pending.pop(record.id, []):
            await session.finish()
        if record.host_config.get("AutoRemove"):
            try:
                await workers.with_engine(
                    lambda engine: engine.containers.remove(record.id, force=True)
                )
            except Exception as problem:  # noqa: BLE001 - removed meanwhile
                log.debug("auto-remove of %s after a failed start: %s", record.id, problem)
            self.events.publish("container", "destroy", record.id, _attributes(record))
        self._resolve(record.id, Exit(error.exit_code))

    def _closer(self, running: Running):  # type: ignore[no-untyped-def]
        async def close_stdin() -> None:
            if running.stdin_open:
                running.stdin_open = False
                try:
                    await running.connection.control({"type": "close-stdin"})
                except (ConnectionError, OSError):
                    pass

        return close_stdin

    async def _relay(self, running: Running, record: Any) -> None:
        result = Exit(255, "container monitor went away")
        try:
            async for kind, payload in running.connection.frames_iter():
                if kind in (stream.STDOUT, stream.STDERR):
                    for session in list(running.sessions):
                        await session.deliver(kind, payload)
                elif kind == stream.CONTROL:
                    found = exit_code_of(payload)
                    if found is not None:
                        result = Exit(*found)
                        break
        except (ConnectionError, OSError) as error:
            log.debug("monitor connection of %s: %s", running.cid, error)
        finally:
            if result.error and result.code == 255:
                # no exit message: read what the monitor recorded

                state = await asyncio.to_thread(read_state, running.directory)
                if not state.running:
                    result = Exit(state.exit_code, "")
            await running.connection.close()
            for session in running.sessions:
                await session.finish()
            self.running.pop(running.cid, None)
            if running.exited is not None and not running.exited.done():
                running.exited.set_result(result)
            self._resolve(running.cid, result)
            attributes = _attributes(record)
            attributes["exitCode"] = str(result.code)
            self.events.publish("container", "die", running.cid, attributes)
            if record.host_config.get("AutoRemove"):
                self.events.publish("container", "destroy", running.cid, _attributes(record))

    # ------------------------------------------------------------ exits

    def _resolve(self, cid: str, result: Exit) -> None:
        for future in self.exit_waiters.pop(cid, []):
            if not future.done():
                future.set_result(result)
        watcher = self.watchers.pop(cid, None)
        if watcher is not None:
            watcher.cancel()

    def next_exit(self, cid: str, directory: Path, running_now: bool) -> asyncio.Future[Exit]:
        """A future for the container's next exit (registered at once, awaited later)."""
        loop = asyncio.get_running_loop()
        watched = self.running.get(cid)
        if watched is not None and watched.exited is not None:
            return watched.exited
        future: asyncio.Future[Exit] = loop.create_future()
        self.exit_waiters.setdefault(cid, []).append(future)
        if cid not in self.watchers:
            self.watchers[cid] = asyncio.ensure_future(self._watch(cid, directory, running_now))
        return future

    async def _watch(self, cid: str, directory: Path, running_now: bool) -> None:
        """Exits of containers this daemon did not start: ask the monitor, or poll the state."""

        try:
            initial = await asyncio.to_thread(read_state, directory)
            while True:
                if cid in self.running:
                    return  # started by us meanwhile: the relay resolves the waiters
                if initial.running:
                    code = await wait_exit(directory)
                    if code is not None:
                        self._resolve_from_watch(cid, Exit(code))
                        return
                await asyncio.sleep(POLL_SECONDS)
                try:
                    state = await asyncio.to_thread(read_state, directory)
                except OSError:
                    return
                if cid in self.running:
                    # Started by this daemon while we slept: its relay has the exit code
                    # (an --rm container's directory may already be gone, and with it
                    # the code: resolving here would answer the initial state's).
                    return
                if not directory.exists():
                    self._resolve_from_watch(cid, Exit(initial.exit_code))
                    return
                if state.running:
                    initial = state
                    continue
                if state.finished_at != initial.finished_at:
                    self._resolve_from_watch(cid, Exit(state.exit_code, state.error))
                    return
        except asyncio.CancelledError:
            pass

    def _resolve_from_watch(self, cid: str, result: Exit) -> None:
        self.watchers.pop(cid, None)
        for future in self.exit_waiters.pop(cid, []):
            if not future.done():
                future.set_result(result)

    # ------------------------------------------------------------ resize, shutdown

    async def resize(self, cid: str, directory: Path, height: int, width: int) -> None:
        message = {"type": "resize", "height": height, "width": width}
        running = self.running.get(cid)
        if running is not None:
            try:
                await running.connection.control(message)
                return
            except (ConnectionError, OSError):
                pass

        await send_control(directory, message)

    def track(self, session: AttachSession) -> None:
        self.sessions.add(session)

    def untrack(self, session: AttachSession) -> None:
        self.sessions.discard(session)

    async def close(self) -> None:
        """Daemon shutdown: containers keep running (their monitors own them); clients
        attached or waiting lose their connection, as with Docker."""
        for futures in list(self.exit_waiters.values()):
            for future in futures:
                if not future.done():
                    future.set_exception(ConnectionAbortedError("the daemon is shutting down"))
        self.exit_waiters.clear()
        for running in list(self.running.values()):
            if running.exited is not None and not running.exited.done():
                running.exited.set_exception(ConnectionAbortedError("the daemon is shutting down"))
        for session in list(self.sessions):
            await session.finish()
        for watcher in list(self.watchers.values()):
            watcher.cancel()
        for running in list(self.running.values()):
            if running.task is not None:
                running.task.cancel()
            for session in running.sessions:
                await session.finish()
            await running.connection.close()
        for sessions in list(self.pending.values()):
            for session in sessions:
                await session.finish()


def _attributes(record: Any) -> dict[str, str]:
    attributes = {"image": record.image_name or record.image, "name": record.name}
    attributes.update(record.config.get("Labels") or {})
    return attributes
