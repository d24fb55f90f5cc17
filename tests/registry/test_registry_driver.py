"""The storage drivers: one contract, checked on each (filesystem, in-memory, S3 on radosgw),
and the registry served from drivers without local files (in-memory, S3)."""

from __future__ import annotations

import asyncio
import os
import time
import urllib.parse
import uuid

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dockyard.registry.app import make_app
from dockyard.registry.config import RegistryConfig
from dockyard.registry.gc import GcPolicy, collect
from dockyard.registry.state import RegistryState
from dockyard.registry.storage import StorageDriver
from dockyard.registry.storage.filesystem import FilesystemDriver
from tests.registry.memory_driver import MemoryDriver
from tests.registry.pushing import OCI_MANIFEST, digest_of, image_manifest

MIB = 1 << 20


def _make_driver(kind: str, tmp_path, request) -> StorageDriver:
    if kind == "filesystem":
        return FilesystemDriver(str(tmp_path / "fs"))
    if kind == "memory":
        return MemoryDriver()
    from dockyard.registry.storage.s3 import open_s3

    ceph = request.getfixturevalue("ceph")
    prefix = "some/prefix" if kind == "s3-prefix" else ""
    url = f"s3://d-{uuid.uuid4().hex[:12]}/{prefix}?endpoint={ceph.endpoint}"
    return open_s3(url)


@pytest.fixture(params=["filesystem", "memory", "s3", "s3-prefix"])
def driver(request, tmp_path):
    made = _make_driver(request.param, tmp_path, request)
    yield made
    made.close()


@pytest.fixture(params=["memory", "s3"])
def remote_driver(request, tmp_path):
    """A driver without local files."""
    made = _make_driver(request.param, tmp_path, request)
    yield made
    made.close()


# -- the contract -------------------------------------------------------------------------


def test_objects_put_get_stat_ranges_and_absence(driver):
    assert driver.stat("a/b/c") is None
    with pytest.raises(FileNotFoundError):
        driver.get("a/b/c")
    with pytest.raises(FileNotFoundError):
        driver.open_read("a/b/c")
    driver.put("a/b/c", b"0123456789")
    driver.put("a/b/c", b"abcdefghij")  # replaced whole
    info = driver.stat("a/b/c")
    assert info is not None and info.size == 10 and abs(info.mtime - time.time()) < 120
    assert driver.get("a/b/c") == b"abcdefghij"
    assert driver.read_range("a/b/c", 2, 3) == b"cde"
    assert driver.read_range("a/b/c", 8, 100) == b"ij"
    with driver.open_read("a/b/c", 7) as stream:
        assert stream.read() == b"hij"
    with driver.open_read("a/b/c", 10) as stream:
        assert stream.read() == b""
    assert driver.local_path("a/b/c") is None or os.path.exists(driver.local_path("a/b/c"))


def test_listing_walking_moving_and_deleting_prefixes(driver):
    for path in ("d/x/1", "d/x/2", "d/y/3", "d/top", "other/4"):
        driver.put(path, path.encode())
    assert driver.list("d") == ["top", "x", "y"]
    assert driver.list("d/x") == ["1", "2"]
    assert driver.list("nothing") == []
    assert sorted((i.path, i.size) for i in driver.walk("d")) == [
        ("d/top", 5), ("d/x/1", 5), ("d/x/2", 5), ("d/y/3", 5),
    ]  # fmt: skip
    driver.move("d/x/1", "e/moved")
    assert driver.stat("d/x/1") is None and driver.get("e/moved") == b"d/x/1"
    driver.put("e/target", b"old")
    driver.move("d/x/2", "e/target")  # replaces
    assert driver.get("e/target") == b"d/x/2"
    driver.delete("d")
    assert driver.list("d") == [] and list(driver.walk("d")) == []
    driver.delete("d")  # absent: not an error
    driver.delete("e/moved")
    assert driver.stat("e/moved") is None and driver.get("other/4") == b"other/4"


def test_writer_streams_large_objects_and_appends(driver):
    data = os.urandom(37 * MIB + 12345)  # several 16 MiB parts and a short last one
    with driver.writer("w/big") as writer:
        for start in range(0, len(data), 3 * MIB):
            writer.writev([data[start : start + MIB], data[start + MIB : start + 3 * MIB]])
        assert writer.size == len(data)
        writer.commit()
    assert driver.stat("w/big").size == len(data)
    assert driver.read_range("w/big", 20 * MIB, 10) == data[20 * MIB : 20 * MIB + 10]
    with driver.writer("w/big", append=True) as writer:
        assert writer.size == len(data)
        writer.write(b"tail")
        writer.commit()
    assert driver.get("w/big") == data + b"tail"
    with driver.writer("w/small") as writer:
        writer.write(b"abc")
    with driver.writer("w/small", append=True) as writer:
        writer.write(b"def")
    assert driver.get("w/small") == b"abcdef"
    writer = driver.writer("w/cancelled")
    writer.write(os.urandom(17 * MIB))
    writer.cancel()
    assert driver.stat("w/cancelled") is None


def test_an_object_written_in_pieces_resumes_from_its_state(driver):
    """As a chunked upload does: each piece may be written by another process."""
    data = os.urandom(23 * MIB + 777)
    pieces = [(0, 3 * MIB), (3 * MIB, 4 * MIB), (4 * MIB, 21 * MIB), (21 * MIB, len(data))]
    driver.writer("up/1/data").close()
    state = None
    for start, end in pieces[:-1]:
        writer = driver.resume_writer("up/1/data", state)
        assert writer.size == start
        writer.write(data[start:end])
        state = writer.suspend()
        assert (state is not None) == driver.needs_upload_state
    writer = driver.resume_writer("up/1/data", state)
    writer.write(data[pieces[-1][0] :])
    writer.sync()
    writer.close()
    assert driver.get("up/1/data") == data
    driver.delete("up/1")
    assert list(driver.walk("up")) == []


# -- the registry on drivers without local files --------------------------------------------


def test_push_pull_ranges_and_gc_on_a_driver_without_local_files(remote_driver, tmp_path):
    driver = remote_driver
    config = RegistryConfig(storage=str(tmp_path / "meta"))
    state = RegistryState(config, driver=driver)

    async def scenario() -> None:
        server = TestServer(make_app(config, state), host="127.0.0.1")
        await server.start_server()
        base = f"http://127.0.0.1:{server.port}"
        try:
            async with aiohttp.ClientSession() as http:
                data = os.urandom(7_000_000)
                async with http.post(f"{base}/v2/mem/blobs/uploads/") as reply:
                    location = reply.headers["Location"]
                async with http.patch(
                    base + location, data=data[:1_000_000], headers={"Content-Range": "0-999999"}
                ) as reply:
                    assert reply.status == 202
                async with http.patch(
                    base + location,
                    data=data[1_000_000:6_000_000],
                    headers={"Content-Range": "1000000-5999999"},
                ) as reply:
                    assert reply.status == 202 and reply.headers["Range"] == "0-5999999"
                async with http.get(base + location) as reply:
                    assert reply.status == 204 and reply.headers["Range"] == "0-5999999"
                async with http.put(
                    f"{base}{location}?digest={digest_of(data)}",
                    data=data[6_000_000:],
                    headers={"Content-Range": f"6000000-{len(data) - 1}"},
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
                async with http.post(f"{base}/v2/mem/blobs/uploads/") as reply:
                    abandoned = reply.headers["Location"]
                async with http.patch(base + abandoned, data=os.urandom(6 * MIB)) as reply:
                    assert reply.status == 202
            await state.drain()
            assert all(driver.local_path(i.path) is None for i in driver.walk("blobs"))
            report = collect(
                driver,
                state.meta,
                GcPolicy(grace=0, upload_grace=0),
                now=time.time() + 10,
            )
            assert report.blobs == [(digest_of(lone), len(lone))]
            assert len(report.uploads) == 1
            gone = f"blobs/sha256/{digest_of(lone)[7:9]}/{digest_of(lone)[7:]}/data"
            assert driver.stat(gone) is None
            assert list(driver.walk("uploads")) == []
            kept = f"blobs/sha256/{digest_of(data)[7:9]}/{digest_of(data)[7:]}/data"
            assert driver.stat(kept).size == len(data)
            if hasattr(driver, "_multipart_uploads"):  # S3: the abandoned upload's parts too
                assert driver._multipart_uploads(driver.location.key("uploads")) == []
        finally:
            await server.close()

    asyncio.run(scenario())


def test_s3_virtual_host_addressing_on_radosgw(ceph):
    """``addressing=virtual`` puts the bucket in the host name. No resolver here knows
    BUCKET.localhost, so each request goes to radosgw's address with that Host header
    (signed as sent): radosgw (``rgw dns name = localhost``) takes the bucket from it."""
    from dockyard.registry.storage.s3 import S3Driver, open_s3
    from dockyard.registry.storage.s3location import S3Location

    port = ceph.endpoint.rsplit(":", 1)[1]
    bucket = f"v-{uuid.uuid4().hex[:10]}"
    open_s3(f"s3://{bucket}?endpoint={ceph.endpoint}").close()  # made path-style
    where = f"s3://{bucket}/pre?endpoint=http://localhost:{port}&addressing=virtual"
    driver = S3Driver(S3Location.parse(where), create_bucket=False)
    seen = []

    def to_loopback(request, **_):
        split = urllib.parse.urlsplit(request.url)
        seen.append(split.netloc)
        request.headers["Host"] = split.netloc
        request.url = split._replace(netloc=f"127.0.0.1:{port}").geturl()

    driver.client.meta.events.register_first("before-send.s3", to_loopback)
    try:
        driver.ensure_bucket()  # exists: HEAD answers
        driver.put("k/1", b"virtual")
        assert driver.get("k/1") == b"virtual" and driver.list("k") == ["1"]
        assert seen and all(netloc == f"{bucket}.localhost:{port}" for netloc in seen)
        assert driver.redirect_url("k/1") is None
    finally:
        driver.close()
