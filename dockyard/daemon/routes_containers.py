"""Container routes: create, start, stop, kill, restart, wait, remove, list, inspect, logs,
resize, export, changes, rename, prune."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from dockyard.daemon import workers
from dockyard.daemon.bridge import ResponseWriter
from dockyard.daemon.errors import ApiError, bad_request
from dockyard.daemon.middleware import Routes, query_bool, query_filters, query_int
from dockyard.errors import Conflict

routes = Routes()

CONTAINER_FILTERS = ("status", "name", "id", "ancestor", "exited", "label", "before", "since")
CHANGE_KINDS = {"C": 0, "A": 1, "D": 2}


def _name(request: web.Request) -> str:
    return request.match_info["name"]


def _find(name: str) -> tuple[Any, Any]:
    from dockyard.containers.lifecycle import find

    return find(workers.store(), name)


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
    from dockyard.daemon.createspec import create_options, fix_record

    body = await _json_body(request)
    name = request.query.get("name") or None
    options = create_options(name, body)

    def job() -> Any:
        from dockyard.containers import record as records
        from dockyard.containers.create import container_dir, create_container

        store = workers.store()
        record = create_container(store, options)
        if fix_record(record, body):
            records.save(container_dir(store, record.id), record)
        return record

    record = await workers.run(job)
    _publish(request, "create", record)
    return web.json_response({"Id": record.id, "Warnings": []}, status=201)


# ---------------------------------------------------------------- start, stop, kill, restart


@routes.post("/containers/{name}/start")
async def start(request: web.Request) -> web.StreamResponse:
    from dockyard.containers.lifecycle import ContainerStartError

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
    from dockyard.containers import lifecycle
    from dockyard.runtime.state import read_state

    name = _name(request)
    timeout = _timeout(request)

    def job() -> tuple[Any, bool]:
        record, directory = _find(name)
        if not read_state(directory).running:
            return record, False
        lifecycle.stop(workers.store(), record.id, timeout)
        return record, True

    record, stopped = await workers.run(job)
    if not stopped:
        return web.Response(status=304)
    _publish(request, "stop", record)
    return web.Response(status=204)


@routes.post("/containers/{name}/kill")
async def kill(request: web.Request) -> web.StreamResponse:
    from dockyard.containers import lifecycle

    name = _name(request)
    signal = request.query.get("signal") or "SIGKILL"

    def job() -> Any:
        record, _ = _find(name)
        lifecycle.kill(workers.store(), record.id, signal)
        return record

    try:
        record = await workers.run(job)
    except Conflict as error:
        raise ApiError(409, str(error)) from None
    _publish(request, "kill", record, signal=str(lifecycle.parse_signal(signal)))
    return web.Response(status=204)


async def _pause_or_unpause(request: web.Request, action: str) -> web.StreamResponse:
    from dockyard.containers import lifecycle

    name = _name(request)
    change = lifecycle.pause if action == "pause" else lifecycle.unpause

    def job() -> Any:
        record, _ = _find(name)
        change(workers.store(), record.id)
        return record

    try:
        record = await workers.run(job)
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
    from dockyard.containers import lifecycle

    name = _name(request)
    timeout = _timeout(request)
    record, _ = await workers.run(_find, name)
    await workers.run(lambda: lifecycle.stop(workers.store(), record.id, timeout))
    await request.app["hub"].start(record.id)
    _publish(request, "restart", record)
    return web.Response(status=204)


# ---------------------------------------------------------------- wait


@routes.post("/containers/{name}/wait")
async def wait(request: web.Request) -> web.StreamResponse:
    from dockyard.runtime.state import read_state

    condition = request.query.get("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise bad_request(f"invalid condition: {condition!r}")
    name = _name(request)

    def look() -> tuple[Any, Any, Any]:
        record, directory = _find(name)
        return record, directory, read_state(directory)

    record, directory, state = await workers.run(look)
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
    from dockyard.containers import lifecycle

    name = _name(request)
    force = query_bool(request, "force")

    def job() -> Any:
        record, _ = _find(name)
        lifecycle.remove(workers.store(), record.id, force)
        return record

    record = await workers.run(job)
    _publish(request, "destroy", record)
    return web.Response(status=204)


@routes.post("/containers/{name}/rename")
async def rename(request: web.Request) -> web.StreamResponse:
    from dockyard.containers import lifecycle

    name = _name(request)
    new_name = request.query.get("name", "")
    if not new_name:
        raise bad_request("name is required")

    def job() -> Any:
        record, _ = _find(name)
        old = record.name
        lifecycle.rename(workers.store(), record.id, new_name)
        record.name = new_name.lstrip("/")
        return record, old

    record, old = await workers.run(job)
    _publish(request, "rename", record, oldName="/" + old)
    return web.Response(status=204)


@routes.post("/containers/prune")
async def prune(request: web.Request) -> web.StreamResponse:
    from dockyard.containers import lifecycle
    from dockyard.containers.listing import list_containers
    from dockyard.imageops.df import tree_size

    filters = query_filters(request)
    for key in filters:
        if key not in ("label", "until"):
            raise bad_request(f"invalid filter '{key}'")
    if filters.get("until"):
        raise bad_request("the until prune filter is not supported by dockyard")
    labels = filters.get("label", [])

    def job() -> tuple[list[str], int]:
        store = workers.store()
        deleted, reclaimed = [], 0
        for summary in list_containers(
            store, all_containers=True, filters={"label": labels} if labels else None
        ):
            if summary.state.running:
                continue
            size = tree_size(summary.directory / "upper")
            try:
                lifecycle.remove(store, summary.id)
            except Exception:  # noqa: BLE001 - removed meanwhile, or busy
                continue
            deleted.append(summary.id)
            reclaimed += size
        return deleted, reclaimed

    deleted, reclaimed = await workers.run(job)
    for cid in deleted:
        request.app["events"].publish("container", "destroy", cid, {})
    return web.json_response({"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed})


# ---------------------------------------------------------------- list, inspect


def summary_document(store: Any, summary: Any, size: bool) -> dict[str, Any]:
    from dockyard.containers.inspect import _mounts
    from dockyard.containers.listing import command_text, image_text, status_text

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
        "Mounts": _mounts(record),
    }
    if size:
        from dockyard.imageops.df import tree_size

        document["SizeRw"] = tree_size(summary.directory / "upper")
        document["SizeRootFs"] = document["SizeRw"] + _image_size(store, record.image)
    return document


def _image_size(store: Any, image_id: str) -> int:
    row = store.db.execute("SELECT size FROM images WHERE id = ?", (image_id,)).fetchone()
    return int(row[0]) if row else 0


@routes.get("/containers/json")
async def list_containers(request: web.Request) -> web.StreamResponse:
    from dockyard.containers.listing import STATUSES, list_containers

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
    before = filters.pop("before", [])
    since = filters.pop("since", [])

    def job() -> list[dict[str, Any]]:
        store = workers.store()
        summaries = list_containers(
            store,
            all_containers=all_containers or bool(before or since),
            last=-1,
            filters=filters or None,
        )
        if before or since:
            summaries = _before_since(store, summaries, before, since)
        if limit > 0:
            summaries = summaries[:limit]
        return [summary_document(store, s, size) for s in summaries]

    return web.json_response(await workers.run(job))


def _before_since(store: Any, summaries: list[Any], before: list[str], since: list[str]) -> list:
    def created_of(text: str) -> float:
        row = store.find_container(text)
        for summary in summaries:
            if summary.id == row.id:
                return summary.created
        return row.created

    if before:
        limit = min(created_of(text) for text in before)
        summaries = [s for s in summaries if s.created < limit]
    if since:
        limit = max(created_of(text) for text in since)
        summaries = [s for s in summaries if s.created > limit]
    return summaries


@routes.get("/containers/{name}/json")
async def inspect(request: web.Request) -> web.StreamResponse:
    from dockyard.containers.inspect import inspect_container

    name = _name(request)
    document = await workers.with_store(inspect_container, name)
    if query_bool(request, "size"):
        from dockyard.imageops.df import tree_size

        def sizes() -> tuple[int, int]:
            record, directory = _find(name)
            rw = tree_size(directory / "upper")
            return rw, rw + _image_size(workers.store(), record.image)

        document["SizeRw"], document["SizeRootFs"] = await workers.run(sizes)
    return web.json_response(document)


# ---------------------------------------------------------------- logs


@routes.get("/containers/{name}/logs")
async def logs(request: web.Request) -> web.StreamResponse:
    from dockyard.runtime import stream as framing
    from dockyard.runtime.state import read_state

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
    record, directory = await workers.run(_find, name)
    tty = record.tty
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=256)
    done = object()

    def produce() -> None:
        from dockyard.runtime import jsonlog
        from dockyard.timeutil import parse_rfc3339_or_zero as parse_rfc3339

        path = directory / f"{record.id}-json.log"
        try:
            if follow:
                entries: Any = jsonlog.follow(path, tail, lambda: read_state(directory).running)
            else:
                entries = jsonlog.read_entries(path, tail)
            for entry in entries:
                if since or until:
                    when = parse_rfc3339(entry.time) or 0
                    if (since and when < since) or (until and when > until):
                        continue
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
    from dockyard.containers.export import export_container

    name = _name(request)
    record, _ = await workers.run(_find, name)
    loop = asyncio.get_running_loop()

    def make_response() -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.content_type = "application/x-tar"
        return response

    writer = ResponseWriter(request, loop, make_response)

    def job() -> None:
        export_container(workers.store(), record.id, writer)
        writer.flush()

    try:
        await workers.run(job)
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
    from dockyard.containers.diff import container_changes

    items = await workers.with_store(container_changes, _name(request))
    return web.json_response(
        [{"Path": path, "Kind": CHANGE_KINDS.get(kind, 0)} for kind, path in items] or None
    )
