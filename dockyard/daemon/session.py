"""One attach client: a hijacked connection that receives a container's output and
feeds its stdin (raw bytes with a TTY, Docker's 8-byte frames without)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from dockyard.daemon.hijack import Hijacked
from dockyard.runtime import stream
from dockyard.runtime.attach import DetachScanner

log = logging.getLogger("dockyard.daemon")

SendStdin = Callable[[bytes], Awaitable[None]]
CloseStdin = Callable[[], Awaitable[None]]


class AttachSession:
    def __init__(
        self, conn: Hijacked, *, tty: bool, stdin: bool, stdout: bool, stderr: bool
    ) -> None:
        self.conn = conn
        self.tty = tty
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.done = asyncio.Event()
        self.broken = False
        self._input_task: asyncio.Task[None] | None = None
        self.detach_keys = b""  # set by the route (TTY attaches only)

    async def deliver(self, kind: int, payload: bytes) -> None:
        if self.broken or self.done.is_set():
            return
        if (kind == stream.STDOUT and not self.stdout) or (
            kind == stream.STDERR and not self.stderr
        ):
            return
        data = payload if self.tty else stream.frame(kind, payload)
        try:
            await self.conn.write(data)
        except (ConnectionError, OSError, RuntimeError):
            self.broken = True
            self.done.set()

    def start_input(self, send: SendStdin, close: CloseStdin) -> None:
        """Forward what the client writes to the container's stdin; EOF closes it."""
        if not self.stdin:
            return
        self._input_task = asyncio.ensure_future(self._pump(send, close))

    async def _pump(self, send: SendStdin, close: CloseStdin) -> None:
        reader = self.conn.reader
        scanner = DetachScanner(self.detach_keys) if self.tty and self.detach_keys else None
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if scanner is not None:
                    data, detached = scanner.feed(data)
                    if data:
                        await send(data)
                    if detached:  # the container keeps running; this client leaves
                        asyncio.ensure_future(self.finish())
                        return
                    continue
                await send(data)
            await close()
        except (ConnectionError, OSError) as error:
            log.debug("attach input ended: %s", error)
        except asyncio.CancelledError:
            pass

    async def finish(self) -> None:
        """The container exited (or the stream ended): EOF to the client."""
        if self._input_task is not None and self._input_task is not asyncio.current_task():
            self._input_task.cancel()
        await self.conn.close()
        self.done.set()
