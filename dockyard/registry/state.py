"""The registry's components, built once per process and shared by the handlers."""

from __future__ import annotations

from aiohttp import web

from dockyard.registry.config import RegistryConfig
from dockyard.registry.content import Content
from dockyard.registry.manifests import Manifests
from dockyard.registry.metadata import Metadata
from dockyard.registry.storage.filesystem import FilesystemDriver
from dockyard.registry.uploads import Uploads


class RegistryState:
    def __init__(self, config: RegistryConfig) -> None:
        from dockyard.registry.access import Access

        self.config = config
        self.driver = FilesystemDriver(config.storage)
        self.meta = Metadata(config.storage)
        self.content = Content(self.driver, self.meta)
        self.uploads = Uploads(self.content)
        self.manifests = Manifests(self.content)
        self.access = Access(self.meta, config)

    def close(self) -> None:
        self.meta.close()


STATE = web.AppKey("registry_state", RegistryState)


def state_of(request: web.Request) -> RegistryState:
    return request.app[STATE]
