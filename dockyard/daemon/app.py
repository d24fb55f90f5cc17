"""The aiohttp application: routes of every area, the middleware, shared state."""

from __future__ import annotations

from aiohttp import web

from dockyard.daemon import (
    routes_archive,
    routes_attach,
    routes_build,
    routes_containers,
    routes_exec,
    routes_images,
    routes_networks,
    routes_system,
)
from dockyard.daemon.events import EventBus
from dockyard.daemon.hub import Hub
from dockyard.daemon.middleware import add_docker_headers, docker_middleware

ROUTE_MODULES = (
    routes_system,
    routes_images,
    routes_containers,
    routes_attach,
    routes_exec,
    routes_archive,
    routes_networks,
    routes_build,
)


def create_app() -> web.Application:
    app = web.Application(middlewares=[docker_middleware], client_max_size=0)
    app["events"] = EventBus()
    app["hub"] = Hub(app["events"])
    app.on_response_prepare.append(add_docker_headers)
    for module in ROUTE_MODULES:
        module.routes.install(app)
    return app
