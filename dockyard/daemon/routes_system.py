"""System routes: /_ping, /version, /info, /events, /system/df, /auth."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from dockyard.containers.listing import command_text, status_text
from dockyard.daemon import apiversion, registryops, sysinfo, workers
from dockyard.daemon.errors import bad_request
from dockyard.daemon.events import CLOSED, matches
from dockyard.daemon.middleware import Routes, query_filters
from dockyard.digest import Digest
from dockyard.imageops.df import tree_size
from dockyard.timeutil import parse_rfc3339

routes = Routes()


def _ping_headers() -> dict[str, str]:
    return {
        "Api-Version": apiversion.advertised(),
        "Builder-Version": "1",
        "Cache-Control": "no-cache, no-store, must-revalidate",
        "Docker-Experimental": "false",
        "Ostype": "linux",
        "Pragma": "no-cache",
    }


@routes.get("/_ping")
async def ping(request: web.Request) -> web.StreamResponse:
    return web.Response(text="OK", headers=_ping_headers(), content_type="text/plain")


@routes.head("/_ping")
async def ping_head(request: web.Request) -> web.StreamResponse:
    return web.Response(headers={**_ping_headers(), "Content-Length": "0"})


@routes.get("/version")
async def version(request: web.Request) -> web.StreamResponse:
    document = await workers.run(sysinfo.version_document)
    return web.json_response(document)


def _counts(engine: Any) -> dict[str, int]:
    summaries = engine.containers.list(all=True)
    running = sum(1 for s in summaries if s.state.running and not s.state.paused)
    paused = sum(1 for s in summaries if s.state.paused)
    return {
        "containers": len(summaries),
        "running": running,
        "paused": paused,
        "stopped": len(summaries) - running - paused,
        "images": len(engine.store.image_rows()),
    }


@routes.get("/info")
async def info(request: web.Request) -> web.StreamResponse:
    counts = await workers.with_engine(_counts)
    document = await workers.run(sysinfo.info_document, str(workers.root()), counts)
    document["NEventsListener"] = len(request.app["events"].queues)
    return web.json_response(document)


def _timestamp_ns(text: str | None, now: float) -> int | None:
    """Docker's since/until: unix seconds (fractions allowed), or a duration like 10m ago."""
    if not text:
        return None
    try:
        return int(float(text) * 1_000_000_000)
    except ValueError:
        pass
    units = {"s": 1, "m": 60, "h": 3600}
    if text[-1:] in units:
        try:
            return int((now - float(text[:-1]) * units[text[-1]]) * 1_000_000_000)
        except ValueError:
            pass

    try:
        return int(parse_rfc3339(text) * 1_000_000_000)
    except Exception:  # noqa: BLE001
        raise bad_request(f"invalid timestamp {text!r}") from None


@routes.get("/events")
async def events(request: web.Request) -> web.StreamResponse:
    bus = request.app["events"]
    now = time.time()
    since = _timestamp_ns(request.query.get("since"), now)
    until = _timestamp_ns(request.query.get("until"), now)
    filters = query_filters(request)
    queue = bus.subscribe()
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    try:
        await response.prepare(request)
        if since is not None:
            for event in bus.since(since, until):
                if matches(event, filters):
                    await response.write(json.dumps(event).encode() + b"\n")
        if until is not None and until <= time.time_ns():
            await response.write_eof()
            return response
        while True:
            timeout = None if until is None else max(0.0, (until - time.time_ns()) / 1e9)
            try:
                event = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                break
            if event is CLOSED:
                break
            if until is not None and event["timeNano"] > until:
                break
            if matches(event, filters):
                await response.write(json.dumps(event).encode() + b"\n")
        await response.write_eof()
    except (ConnectionError, asyncio.CancelledError):
        raise
    finally:
        bus.unsubscribe(queue)
    return response


def _disk_usage(engine: Any) -> dict[str, Any]:
    store = engine.store
    usage = engine.disk_usage()
    containers = engine.containers.list(all=True)
    per_image: dict[str, int] = {}
    for summary in containers:
        per_image[summary.record.image] = per_image.get(summary.record.image, 0) + 1
    layer_users: dict[str, int] = {}
    chains: dict[str, list[tuple[str, int]]] = {}
    for image_id, _parent, top, *_rest in store.image_rows():
        chain = [
            (str(layer.chain_id), layer.size)
            for layer in store.layer_chain(Digest.parse(top) if top else None)
        ]
        chains[image_id] = chain
        for chain_id, _size in chain:
            layer_users[chain_id] = layer_users.get(chain_id, 0) + 1
    images = []
    for summary in engine.images.list(all=True):
        item = summary.to_api()
        item["Containers"] = per_image.get(summary.id, 0)
        item["SharedSize"] = sum(
            size for chain_id, size in chains.get(summary.id, []) if layer_users[chain_id] > 1
        )
        images.append(item)
    container_items = []
    for summary in containers:
        state = summary.state
        container_items.append(
            {
                "Id": summary.id,
                "Names": ["/" + summary.name],
                "Image": summary.record.image_name,
                "ImageID": summary.record.image,
                "Command": command_text(summary.record),
                "Created": int(summary.created),
                "Ports": [],
                "SizeRw": tree_size(summary.directory / "upper"),
                "SizeRootFs": 0,
                "Labels": summary.record.config.get("Labels") or {},
                "State": state.status,
                "Status": _status(state),
                "HostConfig": {"NetworkMode": summary.record.network},
                "NetworkSettings": {"Networks": {}},
                "Mounts": [],
            }
        )
    return {
        "LayersSize": usage["images"]["size"],
        "Images": images,
        "Containers": container_items,
        "Volumes": [],
        "BuildCache": [],
    }


def _status(state: Any) -> str:
    return status_text(state)


@routes.get("/system/df")
async def system_df(request: web.Request) -> web.StreamResponse:
    return web.json_response(await workers.with_engine(_disk_usage))


@routes.post("/auth")
async def auth(request: web.Request) -> web.StreamResponse:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("invalid JSON body") from None
    result = await workers.run(registryops.login, body or {})
    return web.json_response(result)
