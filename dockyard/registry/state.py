"""The registry's components, built once per process and shared by the handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aiohttp import web

from dockyard.registry.access import Access
from dockyard.registry.blobsend import LocalCopySender
from dockyard.registry.config import RegistryConfig
from dockyard.registry.content import Content
from dockyard.registry.manifests import Manifests
from dockyard.registry.metadata_open import open_metadata
from dockyard.registry.storage import StorageDriver, open_driver
from dockyard.registry.uploads import Uploads


class RegistryState:
    def __init__(self, config: RegistryConfig, driver: StorageDriver | None = None) -> None:
        self.config = config
        self.driver = driver or open_driver(config.storage, config.s3_keys)
        self.meta = open_metadata(config.metadata, config.storage)
        self.content = Content(self.driver, self.meta)
        self.uploads = Uploads(self.content)
        self.manifests = Manifests(self.content)
        self.access = Access(self.meta, config)
        self.blob_sender = LocalCopySender()
        self._tasks: set[asyncio.Future] = set()

    def background(self, work: Awaitable) -> None:
        """Run ``work`` without waiting for it (kept referenced; awaited at shutdown)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        await self.uploads.drain()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def close(self) -> None:
        self.blob_sender.close()
        self.meta.close()
        self.driver.close()


STATE = web.AppKey("registry_state", RegistryState)


def state_of(request: web.Request) -> RegistryState:
    return request.app[STATE]
