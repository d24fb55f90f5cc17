"""Several registry processes sharing one storage directory."""

from __future__ import annotations

import asyncio
import os
import time

import aiohttp

from tests.registry.conftest import Client, start_registry, stop_registry
from tests.registry.pushing import OCI_MANIFEST, digest_of, push_image


def test_two_processes_share_uploads_manifests_and_tags(tmp_path):
    storage = str(tmp_path / "shared")
    first = start_registry(storage)
    second = start_registry(storage)
    a, b = Client(first.url), Client(second.url)
    try:
        data = os.urandom(300_000)
        location = a.post("/v2/shared/blobs/uploads/").headers["Location"]
        reply = a.patch(location, data=data[:100_000], headers={"Content-Range": "0-99999"})
        assert reply.status == 202
        # the session continues in the other process (its hash state is rebuilt from storage)
        reply = b.patch(
            location, data=data[100_000:200_000], headers={"Content-Range": "100000-199999"}
        )
        assert reply.status == 202 and reply.headers["Range"] == "0-199999"
        stale = a.patch(location, data=data[:10], headers={"Content-Range": "0-9"})
        assert stale.status == 416 and stale.headers["Range"] == "0-199999"
        done = a.put(f"{location}?digest={digest_of(data)}", data=data[200_000:])
        assert done.status == 201
        assert b.get(f"/v2/shared/blobs/{digest_of(data)}").body == data

        digest, manifest, _ = push_image(a, "shared", "v1", "one")
        got = b.get("/v2/shared/manifests/v1", headers={"Accept": OCI_MANIFEST})
        assert got.status == 200 and got.body == manifest
        assert b.delete("/v2/shared/manifests/v1").status == 202
        assert a.get("/v2/shared/manifests/v1").status == 404
        assert a.get(f"/v2/shared/manifests/{digest}").status == 200
        assert b.get("/v2/_catalog").json() == {"repositories": ["shared"]}
    finally:
        a.close()
        b.close()
        stop_registry(first.process)
        stop_registry(second.process)


def test_v2_without_slash_redirects(client):
    reply = client.get("/v2")
    assert reply.status == 301 and reply.headers["Location"] == "/v2/"


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stream:
                    fields = stream.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def test_workers_share_the_port_and_stop_together(tmp_path):
    server = start_registry(str(tmp_path / "workers"), "--workers", "2")
    deadline = time.monotonic() + 20
    while len(workers := _children(server.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert len(workers) == 2
        client = Client(server.url)
        try:
            data = os.urandom(2_000_000)
            location = client.post("/v2/w/blobs/uploads/").headers["Location"]
            offset = 0
            for size in (500_000, 700_000, 800_000):

                async def patch(chunk: bytes, first: int) -> int:
                    # a new connection each time: the chunks land on either worker
                    async with aiohttp.ClientSession() as fresh:
                        async with fresh.patch(
                            server.url + location,
                            data=chunk,
                            headers={"Content-Range": f"{first}-{first + len(chunk) - 1}"},
                        ) as reply:
                            return reply.status

                assert asyncio.run(patch(data[offset : offset + size], offset)) == 202
                offset += size
            assert client.put(f"{location}?digest={digest_of(data)}").status == 201
            push_image(client, "w", "v1", "workers")

            async def parallel() -> list[bytes]:
                async def one() -> bytes:
                    async with aiohttp.ClientSession() as fresh:
                        async with fresh.get(f"{server.url}/v2/w/blobs/{digest_of(data)}") as r:
                            return await r.read()

                return await asyncio.gather(*(one() for _ in range(8)))

            assert all(body == data for body in asyncio.run(parallel()))
        finally:
            client.close()
    finally:
        stop_registry(server.process)
    assert server.process.returncode == 0
    assert all(not os.path.exists(f"/proc/{pid}") for pid in workers)
