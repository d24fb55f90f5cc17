"""The registry on a storage driver without local files (the shape of an S3 driver)."""

from __future__ import annotations

import asyncio
import os
import time

import aiohttp
from aiohttp.test_utils import TestServer

from dockyard.registry.app import make_app
from dockyard.registry.config import RegistryConfig
from dockyard.registry.gc import GcPolicy, collect
from dockyard.registry.state import RegistryState
from tests.registry.memory_driver import MemoryDriver
from tests.registry.pushing import OCI_MANIFEST, digest_of, image_manifest


def test_push_pull_ranges_and_gc_on_a_driver_without_local_files(tmp_path):
    driver = MemoryDriver()
    config = RegistryConfig(storage=str(tmp_path / "meta"))
    state = RegistryState(config, driver=driver)

    async def scenario() -> None:
        server = TestServer(make_app(config, state), host="127.0.0.1")
        await server.start_server()
        base = f"http://127.0.0.1:{server.port}"
        try:
            async with aiohttp.ClientSession() as http:
                data = os.urandom(3_000_000)
                async with http.post(f"{base}/v2/mem/blobs/uploads/") as reply:
                    location = reply.headers["Location"]
                async with http.patch(
                    base + location, data=data[:1_000_000], headers={"Content-Range": "0-999999"}
                ) as reply:
                    assert reply.status == 202
                async with http.put(
                    f"{base}{location}?digest={digest_of(data)}",
                    data=data[1_000_000:],
                    headers={"Content-Range": f"1000000-{len(data) - 1}"},
                ) as reply:
                    assert reply.status == 201
                async with http.get(f"{base}/v2/mem/blobs/{digest_of(data)}") as reply:
                    assert reply.status == 200 and await reply.read() == data
                async with http.get(
                    f"{base}/v2/mem/blobs/{digest_of(data)}", headers={"Range": "bytes=5-2000004"}
                ) as reply:
                    assert reply.status == 206 and await reply.read() == data[5:2000005]
                config_blob = b'{"os":"linux"}'
                async with http.post(
                    f"{base}/v2/mem/blobs/uploads/?digest={digest_of(config_blob)}",
                    data=config_blob,
                ) as reply:
                    assert reply.status == 201
                manifest = image_manifest(config_blob, [data])
                async with http.put(
                    f"{base}/v2/mem/manifests/v1",
                    data=manifest,
                    headers={"Content-Type": OCI_MANIFEST},
                ) as reply:
                    assert reply.status == 201
                async with http.get(f"{base}/v2/mem/manifests/v1") as reply:
                    assert await reply.read() == manifest
                lone = b"garbage"
                async with http.post(
                    f"{base}/v2/mem/blobs/uploads/?digest={digest_of(lone)}", data=lone
                ) as reply:
                    assert reply.status == 201
            assert not any(path.startswith(str(tmp_path)) for path in driver.objects)
            report = collect(driver, state.meta, GcPolicy(grace=0), now=time.time() + 10)
            assert report.blobs == [(digest_of(lone), len(lone))]
            gone = f"blobs/sha256/{digest_of(lone)[7:9]}/{digest_of(lone)[7:]}/data"
            assert gone not in driver.objects
        finally:
            await server.close()

    asyncio.run(scenario())
