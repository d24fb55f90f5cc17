"""The aiohttp application: routes, common headers, lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from dockyard.registry import api, api_token, autobuild_web, search
from dockyard.registry import web as web_pages
from dockyard.registry.config import RegistryConfig
from dockyard.registry.gc import GcPolicy, collect_if_due
from dockyard.registry.manifests import MAX_MANIFEST
from dockyard.registry.state import STATE, RegistryState

log = logging.getLogger("dockyard.registry")

COMMON_HEADERS = {
    "Docker-Distribution-Api-Version": "registry/2.0",
    "X-Content-Type-Options": "nosniff",
}


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(COMMON_HEADERS)


async def _close(app: web.Application) -> None:
    await app[STATE].drain()
    app[STATE].close()


async def _periodic_gc(app: web.Application):
    """Online gc every ``gc_interval`` seconds, in a worker thread, while serving (skipped
    when another node of the registry has just collected or is collecting)."""
    state = app[STATE]
    config = state.config
    task = None
    if config.gc_interval > 0:

        async def loop() -> None:
            policy = GcPolicy(
                grace=config.gc_grace,
                upload_grace=config.upload_grace,
                delete_untagged=config.gc_delete_untagged,
            )
            while True:
                await asyncio.sleep(config.gc_interval)
                try:
                    report = await asyncio.to_thread(
                        collect_if_due, state.driver, state.meta, policy, config.gc_interval
                    )
                    if report is not None:
                        log.info("gc: %s", report.lines()[-1])
                except Exception:  # keep serving; try again next time
                    log.exception("gc failed")

        task = asyncio.ensure_future(loop())
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _to_v2(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/v2/")


def make_app(config: RegistryConfig, state: RegistryState | None = None) -> web.Application:
    state = state or RegistryState(config)
    app = web.Application(
        handler_args={"read_bufsize": config.read_bufsize},
        client_max_size=MAX_MANIFEST + 4096,
    )
    app[STATE] = state
    app.router.add_get("/v2", _to_v2)
    app.router.add_get("/v2/", api.ping)
    app.router.add_get("/v2/_catalog", api.catalog)
    app.router.add_route("*", "/v2/{tail:.+}", api.dispatch)
    app.router.add_get("/token", api_token.token)
    app.router.add_post("/token", api_token.token)
    app.router.add_get("/v1/search", search.search)
    for method in ("PUT", "POST", "DELETE"):
        app.router.add_route(method, "/v1/repositories/{name:.+}/star", search.star)
    app.router.add_get("/v1/repositories/{name:.+}", search.repository)
    autobuild_web.add_routes(app)  # before the web page's /r/{name:.+}
    web_pages.add_routes(app)
    app.on_response_prepare.append(_add_headers)
    app.cleanup_ctx.append(_periodic_gc)
    app.on_cleanup.append(_close)
    return app
