"""POST /containers/{id}/attach: the hijacked stream of a container's stdio.

Attached to a running container, the session gets its own connection to the
container's monitor (output from now on). Attached to a container that is
not running (`docker run`, `docker start -a`), the session waits in the hub
and is connected when this daemon starts the container, from its first byte
of output.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from dockyard.daemon import workers
from dockyard.daemon.detachkeys import parse
from dockyard.daemon.hijack import hijack
from dockyard.daemon.middleware import Routes, query_bool
from dockyard.daemon.monitorclient import MonitorConnection, exit_code_of
from dockyard.daemon.session import AttachSession
from dockyard.runtime import jsonlog, stream
from dockyard.runtime.state import read_state

log = logging.getLogger("dockyard.daemon")
routes = Routes()


async def _replay_logs(session: AttachSession, directory: Any, record: Any) -> None:
    entries = await asyncio.to_thread(
        jsonlog.read_entries, directory / f"{record.id}-json.log", None
    )
    for entry in entries:
        kind = stream.STDERR if entry.stream == "stderr" else stream.STDOUT
        await session.deliver(kind, entry.text.encode("utf-8", "surrogateescape"))


async def _follow_running(session: AttachSession, directory: Any) -> bool:
    """Relay a running container through a new monitor connection; False if none listens."""
    try:
        connection = await MonitorConnection.connect(
            directory, stdin=session.stdin, stdout=session.stdout, stderr=session.stderr
        )
    except OSError:
        return False

    async def close_stdin() -> None:
        try:
            await connection.control({"type": "close-stdin"})
        except (ConnectionError, OSError):
            pass

    session.start_input(connection.stdin, close_stdin)

    async def relay() -> None:
        try:
            async for kind, payload in connection.frames_iter():
                if kind in (stream.STDOUT, stream.STDERR):
                    await session.deliver(kind, payload)
                    if session.broken:
                        break
                elif kind == stream.CONTROL and exit_code_of(payload) is not None:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            await connection.close()
            await session.finish()

    task = asyncio.ensure_future(relay())
    await session.done.wait()
    if not task.done():
        task.cancel()
        await connection.close()
    return True


@routes.post("/containers/{name}/attach")
async def attach(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]

    def look() -> tuple[Any, Any, Any]:
        record, directory = workers.engine().containers.find(name)
        return record, directory, read_state(directory)

    record, directory, state = await workers.run(look)
    await request.read()
    want_stream = query_bool(request, "stream")
    want_logs = query_bool(request, "logs")
    detach_keys = b""
    if record.tty:
        detach_keys = parse(request.query.get("detachKeys"))
    conn = await hijack(request, multiplexed=not record.tty)
    session = AttachSession(
        conn,
        tty=record.tty,
        stdin=query_bool(request, "stdin") and record.open_stdin,
        stdout=query_bool(request, "stdout"),
        stderr=query_bool(request, "stderr"),
    )
    request.app["events"].publish(
        "container", "attach", record.id, {"image": record.image_name, "name": record.name}
    )
    session.detach_keys = detach_keys
    hub = request.app["hub"]
    hub.track(session)
    try:
        if want_logs:
            await _replay_logs(session, directory, record)
        if not want_stream:
            await session.finish()
        elif state.running and record.id not in hub.pending:
            if not await _follow_running(session, directory):
                hub.add_pending(record.id, session)
                await session.done.wait()
        else:
            hub.add_pending(record.id, session)
            await session.done.wait()
    except asyncio.CancelledError:
        await session.finish()
        raise
    finally:
        hub.untrack(session)
    return conn.finished()
