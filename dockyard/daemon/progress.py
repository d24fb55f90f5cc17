"""Docker's JSON message stream (pull, push, load, import): one JSON object per line.

The 200 headers go out with the first message, so an error before any
output is still an ordinary error response (what the docker CLI prints as
"Error response from daemon: ..."); an error later becomes an
{"errorDetail": ..., "error": ...} line, as Docker does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from dockyard.daemon import workers
from dockyard.daemon.errors import json_error_line, message_for

T = TypeVar("T")
Emit = Callable[[dict[str, Any]], None]


class JsonStream:
    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response: web.StreamResponse | None = None

    @property
    def started(self) -> bool:
        return self.response is not None

    async def start(self) -> web.StreamResponse:
        """Send the 200 headers now: later errors become error lines of the stream."""
        return await self._start()

    async def _start(self) -> web.StreamResponse:
        if self.response is None:
            response = web.StreamResponse(status=200)
            response.content_type = "application/json"
            await response.prepare(self.request)
            self.response = response
        return self.response

    async def send(self, message: dict[str, Any]) -> None:
        response = await self._start()
        await response.write(json.dumps(message, separators=(",", ":")).encode() + b"\r\n")

    async def error(self, error: BaseException) -> None:
        response = await self._start()
        await response.write(json_error_line(message_for(error)))

    async def finish(self) -> web.StreamResponse:
        response = await self._start()
        await response.write_eof()
        return response


async def run_streaming(stream: JsonStream, job: Callable[[Emit], T]) -> T:
    """Run job(emit) in a worker thread; every emit()ted message is written as it comes.

    An exception of the job is raised as it is when nothing was written yet,
    else it is written as the stream's error line and re-raised as StreamFailed.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def emit(message: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, message)

    def call() -> T:
        try:
            return job(emit)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    future = asyncio.ensure_future(workers.run(call))
    while True:
        message = await queue.get()
        if message is None:
            break
        await stream.send(message)
    try:
        return await future
    except Exception as error:
        if not stream.started:
            raise
        await stream.error(error)
        raise StreamFailed(str(error)) from error


class StreamFailed(Exception):
    """The job failed after the stream started; its error line is already written."""


class LayerProgress:
    """Rate-limited "Loading layer"-style progress messages for one layer."""

    def __init__(self, emit: Emit, status: str, layer_id: str, interval: float = 0.1) -> None:
        self.emit = emit
        self.status = status
        self.layer_id = layer_id
        self.interval = interval
        self.last = 0.0
        self.sent_any = False

    def __call__(self, current: int, total: int) -> None:
        now = time.monotonic()
        done = total > 0 and current >= total
        if self.sent_any and not done and now - self.last < self.interval:
            return
        self.last = now
        self.sent_any = True
        self.emit(
            {
                "status": self.status,
                "progressDetail": {"current": current, "total": total},
                "progress": progress_bar(current, total),
                "id": self.layer_id,
            }
        )


def human_size(size: float) -> str:
    """go-units HumanSize: 4 significant digits, decimal units."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    index = 0
    while size >= 1000 and index < len(units) - 1:
        size /= 1000.0
        index += 1
    return f"{size:.4g}{units[index]}"


def progress_bar(current: int, total: int, width: int = 50) -> str:
    """The deprecated "progress" string (the CLI draws its own bar from progressDetail)."""
    if total <= 0:
        return f"{human_size(current):>8}"
    filled = min(width, int(current * 100 / total) // 2)
    bar = "=" * filled + ">" + " " * (width - filled)
    return f"[{bar}] {human_size(current):>8}/{human_size(total)}"
