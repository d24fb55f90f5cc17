"""`POST /build` (the classic builder's JSON message stream) and `/build/prune`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from dockyard.build.builder import BuildError, BuildOptions
from dockyard.build.builder import build as run_build
from dockyard.build.context import from_tar
from dockyard.daemon import workers
from dockyard.daemon.bridge import BodyReader
from dockyard.daemon.errors import bad_request
from dockyard.daemon.middleware import Routes, query_bool
from dockyard.daemon.progress import JsonStream, StreamFailed, run_streaming

routes = Routes()


def _json_map(request: web.Request, name: str) -> dict[str, Any]:
    text = request.query.get(name, "")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise bad_request(f"invalid {name} JSON") from None
    if not isinstance(value, dict):
        raise bad_request(f"invalid {name} JSON")
    return value


@routes.post("/build")
async def build(request: web.Request) -> web.StreamResponse:
    network = request.query.get("networkmode", "") or "none"
    if network == "default":
        network = "none"
    if network not in ("none", "host"):
        raise bad_request(f"network {network} not found (build supports none and host)")
    options = BuildOptions(
        tags=request.query.getall("t", []),
        build_args=_json_map(request, "buildargs"),
        target=request.query.get("target") or None,
        no_cache=query_bool(request, "nocache"),
        pull=query_bool(request, "pull"),
        labels=_json_map(request, "labels"),
        network=network,
        remove=request.query.get("rm", "1").lower() not in ("0", "false"),
        force_remove=query_bool(request, "forcerm"),
    )
    quiet = query_bool(request, "q")
    dockerfile = request.query.get("dockerfile") or None
    loop = asyncio.get_running_loop()
    stream = JsonStream(request)

    def job(emit: Any) -> None:
        engine = workers.engine()
        body = BodyReader(request.content, loop)
        with from_tar(body, dockerfile, str(engine.store.tmp)) as context:
            events = run_build(engine.store, context, options, engine.images, engine.containers)
            started = False
            try:
                for event in events:
                    started = True
                    if "stream" in event and quiet:
                        continue
                    emit(event)
            except BuildError as error:
                if not started or error.before_output:
                    raise
                emit({"errorDetail": {"code": error.code, "message": str(error)},
                      "error": str(error)})  # fmt: skip

    try:
        await run_streaming(stream, job)
    except StreamFailed:
        return await stream.finish()
    return await stream.finish()


@routes.post("/build/prune")
async def prune(request: web.Request) -> web.StreamResponse:
    report = await workers.with_engine(lambda e: e.images.prune(all=query_bool(request, "all")))
    deleted = [item["Deleted"] for item in report.deleted if "Deleted" in item]
    return web.json_response({"CachesDeleted": deleted or None, "SpaceReclaimed": report.reclaimed})
