"""The aiohttp application: routes of every area, the middleware, shared state."""

from __future__ import annotations

from aiohttp import web

from dockyard.daemon.events import EventBus
from dockyard.daemon.middleware import add_docker_headers, docker_middleware

ROUTE_MODULES = (
    "dockyard.daemon.routes_system",
    "dockyard.daemon.routes_images",
    "dockyard.daemon.routes_containers",
    "dockyard.daemon.routes_attach",
    "dockyard.daemon.routes_exec",
    "dockyard.daemon.routes_archive",
    "dockyard.daemon.routes_networks",
    "dockyard.daemon.routes_build",
)


def create_app() -> web.Application:
    import importlib

    from dockyard.daemon.hub import Hub

    app = web.Application(middlewares=[docker_middleware], client_max_size=0)
    app["events"] = EventBus()
    app["hub"] = Hub(app["events"])
    app.on_response_prepare.append(add_docker_headers)
    for name in ROUTE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name == name:
                continue
            raise
        module.routes.install(app)
    return app
