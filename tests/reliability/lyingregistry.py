"""A registry that lies: an aiohttp server on 127.0.0.1 serving whatever a case says.

A case is a mapping of request path to a ``Reply`` (or a coroutine function that
writes the response itself); every other path gets 404. The server runs in a thread
with its own event loop, so the CLI under test can be a plain subprocess.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .artifacts import tar_bytes

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Writer = Callable[[web.Request], Awaitable[web.StreamResponse]]
Routes = dict[str, Reply | Writer]


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Image:
    """A well-formed image; cases change pieces of it before it is served."""

    layers: list[bytes]  # uncompressed tars
    repo: str = "evil/img"
    diff_ids: list[str] | None = None
    config_extra: dict[str, Any] = field(default_factory=dict)

    def blobs(self) -> list[bytes]:
        return [gzip.compress(layer, mtime=0) for layer in self.layers]

    def config(self) -> bytes:
        diff_ids = self.diff_ids if self.diff_ids is not None else [digest(x) for x in self.layers]
        document = {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        document.update(self.config_extra)
        return json.dumps(document).encode()

    def manifest_document(self) -> dict[str, Any]:
        config = self.config()
        return {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "size": len(config), "digest": digest(config)},
            "layers": [
                {"mediaType": DOCKER_LAYER, "size": len(blob), "digest": digest(blob)}
                for blob in self.blobs()
            ],
        }

    def routes(self, manifest: bytes | None = None, tag: str = "1") -> Routes:
        body = manifest if manifest is not None else json.dumps(self.manifest_document()).encode()
        routes: Routes = {"/v2/": Reply(b"{}")}
        headers = {"Content-Type": DOCKER_MANIFEST, "Docker-Content-Digest": digest(body)}
        routes[f"/v2/{self.repo}/manifests/{tag}"] = Reply(body, headers=headers)
        routes[f"/v2/{self.repo}/manifests/{digest(body)}"] = Reply(body, headers=headers)
        config = self.config()
        routes[f"/v2/{self.repo}/blobs/{digest(config)}"] = Reply(config)
        for blob in self.blobs():
            routes[f"/v2/{self.repo}/blobs/{digest(blob)}"] = Reply(blob)
        return routes


def small_layer(name: str = "hello", data: bytes = b"hi\n") -> bytes:
    return tar_bytes({name: data})


class LyingRegistry:
    def __init__(self) -> None:
        self.routes: Routes = {}
        self.requests: list[str] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text='{"errors":[{"code":"NOT_FOUND"}]}')
        if isinstance(route, Reply):
            headers = {"Content-Type": "application/octet-stream", **route.headers}
            return web.Response(body=route.body, status=route.status, headers=headers)
        return await route(request)

    def serve(self, routes: Routes) -> None:
        self.routes = routes
        self.requests = []

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
