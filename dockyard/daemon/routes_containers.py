"""Container routes: create, start, stop, kill, restart, wait, remove, list, inspect, logs,
resize, export, changes, rename, prune."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from dockyard.containers import lifecycle
from dockyard.containers import record as records
from dockyard.containers.inspect import mount_points
from dockyard.containers.lifecycle import ContainerStartError
from dockyard.containers.listing import (
    STATUSES,
    command_text,
    container_sizes,
    image_text,
    status_text,
)
from dockyard.daemon import workers
from dockyard.daemon.bridge import ResponseWriter
from dockyard.daemon.createspec import create_arguments, fix_record
from dockyard.daemon.errors import ApiError, bad_request
from dockyard.daemon.middleware import Routes, query_bool, query_filters, query_int
from dockyard.errors import Conflict
from dockyard.runtime import stream as framing
from dockyard.runtime.state import read_state

routes = Routes()

CONTAINER_FILTERS = ("status", "name", "id", "ancestor", "exited", "label", "before", "since")
CHANGE_KINDS = {"C": 0, "A": 1, "D": 2}


def _name(request: web.Request) -> str:
    return request.match_info["name"]


def _find(name: str) -> tuple[Any, Any]:
    return workers.engine().containers.find(name)


def _attributes(record: Any, **extra: str) -> dict[str, str]:
    attributes = {"image": record.image_name or record.image, "name": record.name}
    attributes.update(record.config.get("Labels") or {})
    attributes.update(extra)
    return attributes


def _publish(request: web.Request, action: str, record: Any, **extra: str) -> None:
    request.app["events"].publish("container", action, record.id, _attributes(record, **extra))


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise bad_request(f"invalid JSON: {error}") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request("invalid JSON: expected an object")
    return body


# ---------------------------------------------------------------- create


@routes.post("/containers/create")
async def create(request: web.Request) -> web.StreamResponse:
    body = await _json_body(request)
    name = request.query.get("name") or None
    arguments = create_arguments(name, body)

    def job(engine: Any) -> Any:
        record = engine.containers.create(**arguments)
        if fix_record(record, body):
            records.save(engine.containers.find(record.id)[1], record)
        return record

    record = await workers.with_engine(job)
    _publish(request, "create", record)
    return web.json_response({"Id": record.id, "Warnings": []}, status=201)


# ---------------------------------------------------------------- start, stop, kill, restart


@routes.post("/containers/{name}/start")
async def start(request: web.Request) -> web.StreamResponse:
    try:
        started, _record = await request.app["hub"].start(_name(request))
    except ContainerStartError as error:
        status = 400 if error.exit_code in (126, 127) else 500
        raise ApiError(status, go_errno_text(str(error))) from None
    if not started:
        return web.Response(status=304)
    return web.Response(status=204)


def go_errno_text(message: str) -> str:
    """OS error texts as Go writes them (lower case): the docker CLI picks the exit code
    of a failed start (127 not found, 126 not executable) from these words."""
    for text in ("No such file or directory", "Permission denied", "Is a directory"):
        message = message.replace(text, text.lower())
    return message


def _timeout(request: web.Request) -> float | None:
    value = query_int(request, "t")
    if value is None:
        value = query_int(request, "timeout")
    return None if value is None or value < 0 else float(value)


@routes.post("/containers/{name}/stop")
async def stop(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    timeout = _timeout(request)

    def job(engine: Any) -> tuple[Any, bool]:
        record = engine.containers.get(name)
        return record, engine.containers.stop(record.id, timeout=timeout)

    record, stopped = await workers.with_engine(job)
    if not stopped:
        return web.Response(status=304)
    _publish(request, "stop", record)
    return web.Response(status=204)


@routes.post("/containers/{name}/kill")
async def kill(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    signal = request.query.get("signal") or "SIGKILL"

    def job(engine: Any) -> Any:
        record = engine.containers.get(name)
        engine.containers.kill(record.id, signal)
        return record

    try:
        record = await workers.with_engine(job)
    except Conflict as error:
        raise ApiError(409, str(error)) from None
    _publish(request, "kill", record, signal=str(lifecycle.parse_signal(signal)))
    return web.Response(status=204)


async def _pause_or_unpause(request: web.Request, action: str) -> web.StreamResponse:
    name = _name(request)

    def job(engine: Any) -> Any:
        record = engine.containers.get(name)
        change = engine.containers.pause if action == "pause" else engine.containers.unpause
        change(record.id)
        return record

    try:
        record = await workers.with_engine(job)
    except Conflict as error:
        raise ApiError(409, str(error)) from None
    _publish(request, action, record)
    return web.Response(status=204)


@routes.post("/containers/{name}/pause")
async def pause(request: web.Request) -> web.StreamResponse:
    return await _pause_or_unpause(request, "pause")


@routes.post("/containers/{name}/unpause")
async def unpause(request: web.Request) -> web.StreamResponse:
    return await _pause_or_unpause(request, "unpause")


@routes.post("/containers/{name}/restart")
async def restart(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    timeout = _timeout(request)

    def stop_it(engine: Any) -> Any:
        record = engine.containers.get(name)
        engine.containers.stop(record.id, timeout=timeout)
        return record

    record = await workers.with_engine(stop_it)
    await request.app["hub"].start(record.id)  # started by the spawner (hub.py)
    _publish(request, "restart", record)
    return web.Response(status=204)


# ---------------------------------------------------------------- wait


@routes.post("/containers/{name}/wait")
async def wait(request: web.Request) -> web.StreamResponse:
    condition = request.query.get("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise bad_request(f"invalid condition: {condition!r}")
    name = _name(request)

    def look() -> tuple[Any, Any, Any]:
        record, directory = _find(name)
        return record, directory, read_state(directory)

    record, directory, state = look()  # short reads: on the loop's thread (hub.start)
    hub = request.app["hub"]
    immediate = condition == "not-running" and not state.running and record.id not in hub.running
    future = None if immediate else hub.next_exit(record.id, directory, state.running)
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    await response.prepare(request)  # the client starts the container once it has these
    if future is None:
        code, error = state.exit_code, ""
    else:
        try:
            result = await asyncio.shield(future)  # shared with other waiters
        except ConnectionAbortedError:  # the daemon stops: the client loses the connection
            if request.transport is not None:
                request.transport.abort()
            return response
        code, error = result.code, result.error
    if condition == "removed":
        while directory.exists():
            await asyncio.sleep(0.05)
    document: dict[str, Any] = {"Error": {"Message": error} if error else None, "StatusCode": code}
    await response.write(json.dumps(document).encode() + b"\n")
    await response.write_eof()
    return response


# ---------------------------------------------------------------- remove, rename, prune


@routes.delete("/containers/{name}")
async def remove(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    force = query_bool(request, "force")

    def job(engine: Any) -> Any:
        record = engine.containers.get(name)
        engine.containers.remove(record.id, force=force)
        return record

    record = await workers.with_engine(job)
    _publish(request, "destroy", record)
    return web.Response(status=204)


@routes.post("/containers/{name}/rename")
async def rename(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    new_name = request.query.get("name", "")
    if not new_name:
        raise bad_request("name is required")

    def job(engine: Any) -> Any:
        record = engine.containers.get(name)
        old = record.name
        engine.containers.rename(record.id, new_name)
        record.name = new_name.lstrip("/")
        return record, old

    record, old = await workers.with_engine(job)
    _publish(request, "rename", record, oldName="/" + old)
    return web.Response(status=204)


@routes.post("/containers/prune")
async def prune(request: web.Request) -> web.StreamResponse:
    filters = query_filters(request)
    for key in filters:
        if key not in ("label", "until"):
            raise bad_request(f"invalid filter '{key}'")
    if filters.get("until"):
        raise bad_request("the until prune filter is not supported by dockyard")
    labels = filters.get("label", [])
    report = await workers.with_engine(
        lambda engine: engine.containers.prune(filters={"label": labels} if labels else None)
    )
    for cid in report.deleted:
        request.app["events"].publish("container", "destroy", cid, {})
    return web.json_response(
        {"ContainersDeleted": report.deleted or None, "SpaceReclaimed": report.reclaimed}
    )


# ---------------------------------------------------------------- list, inspect


def summary_document(store: Any, summary: Any, size: bool) -> dict[str, Any]:
    record = summary.record
    document: dict[str, Any] = {
        "Id": record.id,
        "Names": ["/" + summary.name],
        "Image": image_text(store, summary),
        "ImageID": record.image,
        "Command": command_text(record),
        "Created": int(summary.created),
        "Ports": [],
        "Labels": record.config.get("Labels") or {},
        "State": summary.state.status,
        "Status": status_text(summary.state),
        "HostConfig": {"NetworkMode": record.network},
        "NetworkSettings": {"Networks": {record.network: {"NetworkID": "", "IPAddress": ""}}},
        "Mounts": mount_points(record),
    }
    if size:  # as the CLI's ps -s and inspect -s count them (overlay2's DiffSize)

        document["SizeRw"], document["SizeRootFs"] = container_sizes(store, summary)
    return document


@routes.get("/containers/json")
async def list_containers(request: web.Request) -> web.StreamResponse:
    filters = query_filters(request)
    for key, values in filters.items():
        if key not in CONTAINER_FILTERS:
            raise bad_request(f"invalid filter '{key}'")
        if key == "status":
            for value in values:
                if value not in STATUSES:
                    raise bad_request(f"invalid filter 'status={value}'")
    all_containers = query_bool(request, "all")
    limit = query_int(request, "limit", -1) or -1
    size = query_bool(request, "size")

    def job(engine: Any) -> list[dict[str, Any]]:
        summaries = engine.containers.list(all=all_containers, filters=filters or None)
        if limit > 0:
            summaries = summaries[:limit]
        return [summary_document(engine.store, s, size) for s in summaries]

    return web.json_response(await workers.with_engine(job))


@routes.get("/containers/{name}/json")
async def inspect(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    size = query_bool(request, "size")
    document = await workers.with_engine(lambda engine: engine.containers.inspect(name, size=size))
    return web.json_response(document)


# ---------------------------------------------------------------- logs


@routes.get("/containers/{name}/logs")
async def logs(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    want_stdout = query_bool(request, "stdout")
    want_stderr = query_bool(request, "stderr")
    if not (want_stdout or want_stderr):
        raise bad_request("You must choose at least one stream")
    follow = query_bool(request, "follow")
    timestamps = query_bool(request, "timestamps")
    tail_text = request.query.get("tail", "all")
    tail = None if tail_text in ("", "all") else int(tail_text) if tail_text.isdigit() else None
    since = float(request.query.get("since") or 0)
    until = float(request.query.get("until") or 0)
    record = await workers.with_engine(lambda engine: engine.containers.get(name))
    tty = record.tty
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=256)
    done = object()

    def produce() -> None:
        try:
            entries = workers.engine().containers.logs(
                record.id, tail=tail, follow=follow, since=since, until=until
            )
            for entry in entries:
                if stopped:
                    return
                asyncio.run_coroutine_threadsafe(queue.put(entry), loop).result()
        finally:
            asyncio.run_coroutine_threadsafe(queue.put(done), loop).result()

    stopped = False
    response = web.StreamResponse(status=200)
    response.content_type = (
        "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    )
    await response.prepare(request)
    producer = asyncio.ensure_future(workers.run(produce))
    try:
        while True:
            entry = await queue.get()
            if entry is done:
                break
            kind = framing.STDERR if entry.stream == "stderr" else framing.STDOUT
            if (kind == framing.STDOUT and not want_stdout) or (
                kind == framing.STDERR and not want_stderr
            ):
                continue
            data = entry.text.encode("utf-8", "surrogateescape")
            if timestamps:
                data = entry.time.encode() + b" " + data
            await response.write(data if tty else framing.frame(kind, data))
    finally:
        stopped = True
        while not producer.done():
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                await asyncio.sleep(0.01)
    await response.write_eof()
    return response


# ---------------------------------------------------------------- resize, export, changes


@routes.post("/containers/{name}/resize")
async def resize(request: web.Request) -> web.StreamResponse:
    height = query_int(request, "h", 0) or 0
    width = query_int(request, "w", 0) or 0
    record, directory = await workers.run(_find, _name(request))
    if height > 0 and width > 0:
        await request.app["hub"].resize(record.id, directory, height, width)
    return web.Response(status=200)


@routes.get("/containers/{name}/export")
async def export(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    record = await workers.with_engine(lambda engine: engine.containers.get(name))
    loop = asyncio.get_running_loop()

    def make_response() -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.content_type = "application/x-tar"
        return response

    writer = ResponseWriter(request, loop, make_response)

    def job(engine: Any) -> None:
        engine.containers.export(record.id, writer)
        writer.flush()

    try:
        await workers.with_engine(job)
    except Exception:
        if writer.response is None:
            raise
        if request.transport is not None:
            request.transport.abort()
        return writer.response
    _publish(request, "export", record)
    return await writer.finish()


@routes.get("/containers/{name}/changes")
async def changes(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    items = await workers.with_engine(lambda engine: engine.containers.diff(name))
    return web.json_response(
        [{"Path": path, "Kind": CHANGE_KINDS.get(kind, 0)} for kind, path in items] or None
    )
