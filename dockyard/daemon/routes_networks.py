"""Networks and volumes: what dockyard has (the `none` and `host` networks, no volumes),
so that `docker network ls`, `docker volume ls` and SDK listings answer."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from dockyard.daemon.errors import bad_request, not_found
from dockyard.daemon.middleware import Routes

routes = Routes()
DRIVERS = {"none": "null", "host": "host"}


def _network(name: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Id": hashlib.sha256(f"dockyard-network:{name}".encode()).hexdigest(),
        "Created": "0001-01-01T00:00:00Z",
        "Scope": "local",
        "Driver": DRIVERS[name],
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None, "Config": []},
        "Internal": False,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {},
        "Options": {},
        "Labels": {},
    }


@routes.get("/networks")
async def list_networks(request: web.Request) -> web.StreamResponse:
    return web.json_response([_network(name) for name in DRIVERS])


@routes.get("/networks/{name}")
async def inspect_network(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    for candidate in DRIVERS:
        network = _network(candidate)
        if name in (candidate, network["Id"]) or (
            len(name) >= 3 and network["Id"].startswith(name)
        ):
            return web.json_response(network)
    raise not_found(f"network {name} not found")


@routes.post("/networks/create")
async def create_network(request: web.Request) -> web.StreamResponse:
    raise bad_request("dockyard has the none and host networks only")


@routes.get("/volumes")
async def list_volumes(request: web.Request) -> web.StreamResponse:
    return web.json_response({"Volumes": [], "Warnings": None})


@routes.get("/volumes/{name}")
async def inspect_volume(request: web.Request) -> web.StreamResponse:
    raise not_found(f"get {request.match_info['name']}: no such volume")


@routes.post("/volumes/create")
async def create_volume(request: web.Request) -> web.StreamResponse:
    raise bad_request("dockyard has no volumes: use bind mounts (-v /host/path:/path)")
