"""The ``/v2/`` router: match the path, check the name, authorize, call the handler,
render the spec's error JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from dockyard.registry import api_blobs, api_listing, api_manifests
from dockyard.registry.errors import JSON_TYPE, RegistryError, RegistryErrors, error_body
from dockyard.registry.names import check_name
from dockyard.registry.state import state_of

Handler = Callable[..., Awaitable[web.StreamResponse]]

# (path pattern, {method: (handler, action)}); the upload routes come before the blob route.
ROUTES: list[tuple[re.Pattern[str], dict[str, tuple[Handler, str]]]] = [
    (
        re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/?$"),
        {"POST": (api_blobs.start_upload, "push")},
    ),
    (
        re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<upload>[^/]+)$"),
        {
            "GET": (api_blobs.upload_status, "push"),
            "PATCH": (api_blobs.patch_upload, "push"),
            "PUT": (api_blobs.put_upload, "push"),
            "DELETE": (api_blobs.cancel_upload, "push"),
        },
    ),
    (
        re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$"),
        {
            "GET": (api_blobs.get_blob, "pull"),
            "HEAD": (api_blobs.get_blob, "pull"),
            "DELETE": (api_blobs.delete_blob, "delete"),
        },
    ),
    (
        re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$"),
        {
            "GET": (api_manifests.get_manifest, "pull"),
            "HEAD": (api_manifests.get_manifest, "pull"),
            "PUT": (api_manifests.put_manifest, "push"),
            "DELETE": (api_manifests.delete_manifest, "delete"),
        },
    ),
    (
        re.compile(r"^/v2/(?P<name>.+)/tags/list$"),
        {"GET": (api_listing.list_tags, "pull")},
    ),
    (
        re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$"),
        {"GET": (api_listing.referrers, "pull")},
    ),
]


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    body = json.dumps(data, separators=(",", ":")).encode()
    response = web.Response(body=body, status=status, headers=headers)
    response.headers["Content-Type"] = JSON_TYPE
    return response


def error_response(error: RegistryError | RegistryErrors) -> web.Response:
    errors = error.errors if isinstance(error, RegistryErrors) else [error]
    response = web.Response(body=error_body(errors), status=error.status, headers=error.headers)
    response.headers["Content-Type"] = JSON_TYPE
    return response


def not_found() -> web.Response:
    return web.Response(status=404, text="404 page not found\n")


async def ping(request: web.Request) -> web.StreamResponse:
    try:
        await state_of(request).access.authorize_ping(request)
    except RegistryError as error:
        return error_response(error)
    return web.Response(body=b"{}", content_type="application/json", charset="utf-8")


async def catalog(request: web.Request) -> web.StreamResponse:
    try:
        return await api_listing.catalog(request, state_of(request))
    except (RegistryError, RegistryErrors) as error:
        return error_response(error)


async def dispatch(request: web.Request) -> web.StreamResponse:
    path = request.path
    for pattern, methods in ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        route = methods.get(request.method)
        if route is None:
            return error_response(RegistryError("UNSUPPORTED", {"method": request.method}))
        handler, action = route
        state = state_of(request)
        args = match.groupdict()
        try:
            name = check_name(args.pop("name"))
            identity = await state.access.authorize(request, name, action)
            return await handler(request, state, identity, name, **args)
        except (RegistryError, RegistryErrors) as error:
            return error_response(error)
    return not_found()
