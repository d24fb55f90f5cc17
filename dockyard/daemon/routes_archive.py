"""HEAD/GET/PUT /containers/{id}/archive: what `docker cp` uses."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from dockyard.daemon import workers
from dockyard.daemon.archive import extract_archive, path_stat, stat_header, write_archive
from dockyard.daemon.bridge import BodyReader, ResponseWriter
from dockyard.daemon.errors import bad_request
from dockyard.daemon.middleware import Routes, query_bool

routes = Routes()
STAT_HEADER = "X-Docker-Container-Path-Stat"


def _container(name: str) -> tuple[Any, Any]:
    from dockyard.containers.lifecycle import find

    return find(workers.store(), name)


def _path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise bad_request("path is required")
    return path


@routes.head("/containers/{name}/archive")
async def stat(request: web.Request) -> web.StreamResponse:
    from dockyard.containers.export import merged_view

    name = request.match_info["name"]
    path = _path(request)

    def job() -> dict[str, Any]:
        _record, directory = _container(name)
        with merged_view(directory) as view:
            return path_stat(view, path, name)

    info = await workers.run(job)
    return web.Response(status=200, headers={STAT_HEADER: stat_header(info)})


@routes.get("/containers/{name}/archive")
async def get_archive(request: web.Request) -> web.StreamResponse:
    from dockyard.containers.export import merged_view

    name = request.match_info["name"]
    path = _path(request)
    loop = asyncio.get_running_loop()
    ready = threading.Event()
    header: dict[str, str] = {}

    def make_response() -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers=header)
        response.content_type = "application/x-tar"
        return response

    writer = ResponseWriter(request, loop, make_response)

    def job() -> None:
        _record, directory = _container(name)
        with merged_view(directory) as view:
            header[STAT_HEADER] = stat_header(path_stat(view, path, name))
            ready.set()
            write_archive(view, path, name, writer)
            writer.flush()

    try:
        await workers.run(job)
    except Exception:
        if writer.response is None:
            raise
        if request.transport is not None:
            request.transport.abort()
        return writer.response
    return await writer.finish()


@routes.put("/containers/{name}/archive")
async def put_archive(request: web.Request) -> web.StreamResponse:
    from dockyard.containers.copy import writable_view

    name = request.match_info["name"]
    path = _path(request)
    no_overwrite = query_bool(request, "noOverwriteDirNonDir")
    copy_uid_gid = query_bool(request, "copyUIDGID")
    loop = asyncio.get_running_loop()

    def job() -> None:
        _record, directory = _container(name)
        body = BodyReader(request.content, loop)
        with writable_view(directory) as view:
            extract_archive(
                view,
                path,
                name,
                body,
                no_overwrite_dir_non_dir=no_overwrite,
                copy_uid_gid=copy_uid_gid,
            )

    await workers.run(job)
    return web.Response(status=200)
