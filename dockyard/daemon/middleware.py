"""Route registration with /v1.NN/ prefixes, Docker's headers, errors and request logs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from dockyard.daemon import apiversion
from dockyard.daemon.errors import bad_request, error_response, message_for, status_for

log = logging.getLogger("dockyard.daemon")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
VERSION_PATTERN = r"/v{api_version:[0-9]+\.[0-9]+}"
SERVER_HEADER = "Docker/20.10.24 (linux)"


class Routes:
    """Collects (method, path, handler); adds each with and without the version prefix."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, Handler]] = []

    def add(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.items.append((method, path, handler))
            return handler

        return decorate

    def get(self, path: str) -> Callable[[Handler], Handler]:
        return self.add("GET", path)

    def post(self, path: str) -> Callable[[Handler], Handler]:
        return self.add("POST", path)

    def put(self, path: str) -> Callable[[Handler], Handler]:
        return self.add("PUT", path)

    def delete(self, path: str) -> Callable[[Handler], Handler]:
        return self.add("DELETE", path)

    def head(self, path: str) -> Callable[[Handler], Handler]:
        return self.add("HEAD", path)

    def install(self, app: web.Application) -> None:
        for method, path, handler in self.items:
            for full in (path, VERSION_PATTERN + path):
                app.router.add_route(method, full, handler)


def api_version(request: web.Request) -> str:
    """The API version of the request: its /v1.NN/ prefix, else what the daemon advertises."""
    return request.match_info.get("api_version") or apiversion.advertised()


@web.middleware
async def docker_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.monotonic()
    version = request.match_info.get("api_version")
    status = 500
    try:
        if version is not None:
            problem = apiversion.check(version)
            if problem is not None:
                status = 400
                return error_response(400, problem)
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        if error.status == 404:
            return error_response(404, "page not found")
        if error.status == 405:
            return error_response(405, "method not allowed")
        return error_response(error.status, error.reason)
    except ConnectionError:
        status = 499
        raise
    except Exception as error:  # noqa: BLE001 - every failure becomes Docker's error body
        status = status_for(error)
        message = message_for(error)
        if status >= 500:
            log.exception("%s %s failed", request.method, request.path)
        else:
            log.debug("%s %s: %s", request.method, request.path, message)
        return error_response(status, message)
    finally:
        log.info(
            "%s %s%s -> %s (%.1f ms)",
            request.method,
            request.path,
            f"?{request.query_string}" if request.query_string else "",
            status,
            (time.monotonic() - started) * 1000,
        )


async def add_docker_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Api-Version", apiversion.advertised())
    response.headers.setdefault("Docker-Experimental", "false")
    response.headers.setdefault("Ostype", "linux")
    response.headers["Server"] = SERVER_HEADER


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """Docker's boolean query values: 1/true/True/yes; 0/false/no/empty are false."""
    value = request.query.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("", "0", "false", "no")


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"invalid value for {name}: {value}") from None


def query_filters(request: web.Request) -> dict[str, list[str]]:
    """Docker's `filters` query: {"key": ["v"]} or the old {"key": {"v": true}} form."""

    text = request.query.get("filters")
    if not text:
        return {}
    try:
        data: Any = json.loads(text)
    except ValueError:
        raise bad_request(f"invalid filter: {text}") from None
    filters: dict[str, list[str]] = {}
    for key, values in (data or {}).items():
        if isinstance(values, dict):
            filters[key] = [k for k, v in values.items() if v]
        elif isinstance(values, list):
            filters[key] = [str(v) for v in values]
        else:
            filters[key] = [str(values)]
    return filters
