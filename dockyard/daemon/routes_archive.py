"""HEAD/GET/PUT /containers/{id}/archive: what `docker cp` uses (engine.containers'
stat_path, get_archive and put_archive, the CLI's `cp` implementation)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from dockyard.daemon import workers
from dockyard.daemon.archive import stat_document, stat_header
from dockyard.daemon.bridge import BodyReader, ResponseWriter
from dockyard.daemon.errors import bad_request
from dockyard.daemon.middleware import Routes, query_bool

routes = Routes()
STAT_HEADER = "X-Docker-Container-Path-Stat"


def _path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise bad_request("path is required")
    return path


@routes.head("/containers/{name}/archive")
async def stat(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = _path(request)
    info = await workers.with_engine(lambda engine: engine.containers.stat_path(name, path))
    return web.Response(status=200, headers={STAT_HEADER: stat_header(stat_document(info))})


@routes.get("/containers/{name}/archive")
async def get_archive(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = _path(request)
    loop = asyncio.get_running_loop()
    header: dict[str, str] = {}

    def make_response() -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers=header)
        response.content_type = "application/x-tar"
        return response

    writer = ResponseWriter(request, loop, make_response)

    def on_stat(info: Any) -> None:
        header[STAT_HEADER] = stat_header(stat_document(info))

    def job(engine: Any) -> None:
        engine.containers.get_archive(name, path, writer, on_stat=on_stat)
        writer.flush()

    try:
        await workers.with_engine(job)
    except Exception:
        if writer.response is None:
            raise
        if request.transport is not None:
            request.transport.abort()
        return writer.response
    return await writer.finish()


@routes.put("/containers/{name}/archive")
async def put_archive(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = _path(request)
    no_overwrite = query_bool(request, "noOverwriteDirNonDir")
    copy_uid_gid = query_bool(request, "copyUIDGID")
    loop = asyncio.get_running_loop()

    def job(engine: Any) -> None:
        engine.containers.put_archive(
            name,
            path,
            BodyReader(request.content, loop),
            copy_uid_gid=copy_uid_gid,
            no_overwrite_dir_non_dir=no_overwrite,
        )

    await workers.with_engine(job)
    return web.Response(status=200)
