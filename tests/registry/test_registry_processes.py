"""Several registry processes sharing one storage directory."""

from __future__ import annotations

import os

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
