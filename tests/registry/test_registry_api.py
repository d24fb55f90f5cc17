"""The distribution API against a real registry process, with an aiohttp client."""

from __future__ import annotations

import json
import os

from tests.registry.pushing import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
)


def storage_files(registry, top: str) -> list[str]:
    """Every object under ``top`` of the registry's storage (a directory or a bucket)."""
    from dockyard.registry.storage import open_driver

    driver = open_driver(registry.storage)
    try:
        return [info.path for info in driver.walk(top)]
    finally:
        driver.close()


def test_ping_and_common_headers(client):
    reply = client.get("/v2/")
    assert reply.status == 200
    assert reply.body == b"{}"
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert reply.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_monolithic_upload_then_blob_head_get_and_ranges(client):
    data = os.urandom(100_000)
    digest = digest_of(data)
    start = client.post("/v2/mono/blobs/uploads/")
    assert start.status == 202
    assert start.headers["Range"] == "0-0"
    assert start.headers["Docker-Upload-UUID"]
    location = start.headers["Location"]
    done = client.put(f"{location}?digest={digest}", data=data)
    assert done.status == 201
    assert done.headers["Location"] == f"/v2/mono/blobs/{digest}"
    assert done.headers["Docker-Content-Digest"] == digest

    head = client.head(f"/v2/mono/blobs/{digest}")
    assert head.status == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.headers["Content-Type"] == "application/octet-stream"
    assert head.headers["Etag"] == f'"{digest}"'
    assert head.headers["Accept-Ranges"] == "bytes"
    assert head.body == b""

    got = client.get(f"/v2/mono/blobs/{digest}")
    assert got.status == 200 and got.body == data

    part = client.get(f"/v2/mono/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert part.status == 206
    assert part.body == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    tail = client.get(f"/v2/mono/blobs/{digest}", headers={"Range": "bytes=-5"})
    assert tail.status == 206 and tail.body == data[-5:]
    bad = client.get(f"/v2/mono/blobs/{digest}", headers={"Range": "bytes=200000-"})
    assert bad.status == 416
    assert bad.headers["Content-Range"] == f"bytes */{len(data)}"

    # the blob is linked to "mono" only
    other = client.get(f"/v2/elsewhere/blobs/{digest}")
    assert other.status == 404 and other.codes == ["BLOB_UNKNOWN"]


def test_unknown_blob_is_blob_unknown(client):
    zero = "sha256:" + "0" * 64
    reply = client.get(f"/v2/busybox/blobs/{zero}")
    assert reply.status == 404
    assert reply.json() == {
        "errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": zero}]
    }
    head = client.head(f"/v2/busybox/blobs/{zero}")
    assert head.status == 404 and head.body == b""


def test_single_post_upload_with_digest(client):
    data = b"one request"
    digest = digest_of(data)
    reply = client.post(f"/v2/single/blobs/uploads/?digest={digest}", data=data)
    assert reply.status == 201
    assert reply.headers["Docker-Content-Digest"] == digest
    assert client.get(f"/v2/single/blobs/{digest}").body == data


def test_wrong_digest_is_rejected_and_leaves_nothing(client, registry):
    data = os.urandom(50_000)
    wrong = digest_of(b"something else")
    start = client.post("/v2/wrong/blobs/uploads/")
    location = start.headers["Location"]
    reply = client.put(f"{location}?digest={wrong}", data=data)
    assert reply.status == 400
    assert reply.codes == ["DIGEST_INVALID"]
    # the session is gone, no blob is stored or linked, no upload data remains
    assert client.get(location).status == 404
    assert client.head(f"/v2/wrong/blobs/{wrong}").status == 404
    assert client.head(f"/v2/wrong/blobs/{digest_of(data)}").status == 404
    assert storage_files(registry, "blobs") == []
    assert storage_files(registry, "uploads") == []
    # and the single-request form too
    reply = client.post(f"/v2/wrong/blobs/uploads/?digest={wrong}", data=data)
    assert reply.status == 400 and reply.codes == ["DIGEST_INVALID"]
    assert storage_files(registry, "blobs") == []
    assert storage_files(registry, "uploads") == []


def test_chunked_upload_out_of_order_and_repeated_chunks_get_416(client):
    data = os.urandom(30)
    start = client.post("/v2/chunky/blobs/uploads/")
    location = start.headers["Location"]
    first = client.patch(
        location,
        data=data[:10],
        headers={"Content-Range": "0-9", "Content-Type": "application/octet-stream"},
    )
    assert first.status == 202
    assert first.headers["Range"] == "0-9"
    location = first.headers["Location"]

    skipped = client.patch(location, data=data[20:], headers={"Content-Range": "20-29"})
    assert skipped.status == 416
    assert skipped.headers["Range"] == "0-9"
    assert skipped.headers["Location"] == location
    repeated = client.patch(location, data=data[:10], headers={"Content-Range": "0-9"})
    assert repeated.status == 416
    malformed = client.patch(location, data=data[10:20], headers={"Content-Range": "ten-twenty"})
    assert malformed.status == 416

    second = client.patch(location, data=data[10:20], headers={"Content-Range": "10-19"})
    assert second.status == 202 and second.headers["Range"] == "0-19"
    status = client.get(location)
    assert status.status == 204
    assert status.headers["Range"] == "0-19"
    assert status.headers["Location"] == location

    done = client.put(
        f"{location}?digest={digest_of(data)}", data=data[20:], headers={"Content-Range": "20-29"}
    )
    assert done.status == 201
    assert client.get(f"/v2/chunky/blobs/{digest_of(data)}").body == data


def test_streamed_patch_then_empty_put(client):
    data = os.urandom(3 << 20)
    location = client.post("/v2/streamed/blobs/uploads/").headers["Location"]

    async def chunks():
        for i in range(0, len(data), 100_000):
            yield data[i : i + 100_000]

    reply = client.patch(location, data=chunks())
    assert reply.status == 202
    assert reply.headers["Range"] == f"0-{len(data) - 1}"
    done = client.put(f"{reply.headers['Location']}?digest={digest_of(data)}")
    assert done.status == 201
    assert client.get(f"/v2/streamed/blobs/{digest_of(data)}").body == data


def test_put_without_digest_and_unknown_session(client):
    location = client.post("/v2/nodigest/blobs/uploads/").headers["Location"]
    reply = client.put(location, data=b"abc")
    assert reply.status == 400 and reply.codes == ["DIGEST_INVALID"]
    unknown = client.patch("/v2/nodigest/blobs/uploads/no-such-upload", data=b"x")
    assert unknown.status == 404 and unknown.codes == ["BLOB_UPLOAD_UNKNOWN"]
    # a session belongs to its repository
    other = client.get(location.replace("/nodigest/", "/other/"))
    assert other.status == 404 and other.codes == ["BLOB_UPLOAD_UNKNOWN"]


def test_cancel_upload(client, registry):
    location = client.post("/v2/cancel/blobs/uploads/").headers["Location"]
    client.patch(location, data=b"partial")
    reply = client.delete(location)
    assert reply.status == 204
    gone = client.get(location)
    assert gone.status == 404 and gone.codes == ["BLOB_UPLOAD_UNKNOWN"]
    assert storage_files(registry, "uploads") == []


def test_cross_repository_mount(client):
    digest = push_blob(client, "source/repo", b"shared layer")
    mounted = client.post(f"/v2/target/repo/blobs/uploads/?mount={digest}&from=source/repo")
    assert mounted.status == 201
    assert mounted.headers["Location"] == f"/v2/target/repo/blobs/{digest}"
    assert mounted.headers["Docker-Content-Digest"] == digest
    assert client.get(f"/v2/target/repo/blobs/{digest}").body == b"shared layer"
    # the source does not have it: fall back to an upload session
    missing = digest_of(b"nobody has this")
    fallback = client.post(f"/v2/target/repo/blobs/uploads/?mount={missing}&from=source/repo")
    assert fallback.status == 202
    assert "/v2/target/repo/blobs/uploads/" in fallback.headers["Location"]
    # so do malformed mount arguments and a mount without "from"
    for query in (
        "mount=sha256:bad&from=source/repo",
        f"mount={digest}&from=BAD",
        f"mount={digest}",
    ):
        reply = client.post(f"/v2/target/repo/blobs/uploads/?{query}")
        assert reply.status == 202, query


def test_manifest_naming_a_missing_blob(client):
    config = b'{"architecture":"amd64","os":"linux"}'
    push_blob(client, "partial", config)
    layer = b"never uploaded"
    manifest = image_manifest(config, [layer])
    reply = client.put(
        "/v2/partial/manifests/latest", data=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert reply.status == 400
    assert reply.json()["errors"] == [
        {
            "code": "MANIFEST_BLOB_UNKNOWN",
            "message": "blob unknown to registry",
            "detail": digest_of(layer),
        }
    ]
    assert client.get("/v2/partial/manifests/latest").status == 404


def test_manifest_put_get_head_by_tag_and_digest(client):
    digest, manifest, _ = push_image(client, "app", "v1", "app-v1")
    for reference in ("v1", digest):
        got = client.get(f"/v2/app/manifests/{reference}", headers={"Accept": OCI_MANIFEST})
        assert got.status == 200
        assert got.body == manifest
        assert got.headers["Content-Type"] == OCI_MANIFEST
        assert got.headers["Docker-Content-Digest"] == digest
        assert got.headers["Etag"] == f'"{digest}"'
        head = client.head(f"/v2/app/manifests/{reference}")
        assert head.status == 200
        assert head.headers["Content-Length"] == str(len(manifest))
        assert head.headers["Docker-Content-Digest"] == digest
    unknown = client.get("/v2/app/manifests/nosuchtag")
    assert unknown.status == 404
    assert unknown.json() == {
        "errors": [
            {
                "code": "MANIFEST_UNKNOWN",
                "message": "manifest unknown",
                "detail": {"Tag": "nosuchtag"},
            }
        ]
    }


def test_manifest_put_response(client):
    config = b"{}"
    push_blob(client, "resp", config)
    manifest = image_manifest(config, [])
    reply = client.put(
        "/v2/resp/manifests/t", data=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert reply.status == 201
    assert reply.headers["Location"] == f"/v2/resp/manifests/{digest_of(manifest)}"
    assert reply.headers["Docker-Content-Digest"] == digest_of(manifest)
    assert "OCI-Subject" not in reply.headers


def test_accept_negotiation(client):
    push_image(client, "oci", "latest", "oci")
    refused = client.get("/v2/oci/manifests/latest", headers={"Accept": DOCKER_MANIFEST})
    assert refused.status == 404
    assert refused.json()["errors"][0] == {
        "code": "MANIFEST_UNKNOWN",
        "message": "OCI manifest found, but accept header does not support OCI manifests",
    }
    both = client.get(
        "/v2/oci/manifests/latest", headers={"Accept": f"{DOCKER_MANIFEST}, {OCI_MANIFEST}"}
    )
    assert both.status == 200 and both.headers["Content-Type"] == OCI_MANIFEST
    # Docker v2: served to Docker clients
    push_image(client, "dock", "latest", "dock", docker=True)
    got = client.get("/v2/dock/manifests/latest", headers={"Accept": DOCKER_MANIFEST})
    assert got.status == 200 and got.headers["Content-Type"] == DOCKER_MANIFEST


def test_docker_manifest_list_falls_back_to_amd64_for_old_clients(client):
    amd, amd_manifest, _ = push_image(client, "lst", None, "amd", docker=True)
    arm, _, _ = push_image(client, "lst", None, "arm", docker=True)
    entries = [
        {
            "mediaType": DOCKER_MANIFEST,
            "digest": d,
            "size": 10,
            "platform": {"architecture": arch, "os": "linux"},
        }
        for d, arch in ((arm, "arm64"), (amd, "amd64"))
    ]
    listing = json.dumps(
        {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": entries}
    ).encode()
    assert (
        client.put(
            "/v2/lst/manifests/multi", data=listing, headers={"Content-Type": DOCKER_LIST}
        ).status
        == 201
    )
    full = client.get(
        "/v2/lst/manifests/multi", headers={"Accept": f"{DOCKER_LIST},{DOCKER_MANIFEST}"}
    )
    assert full.headers["Content-Type"] == DOCKER_LIST and full.body == listing
    old = client.get("/v2/lst/manifests/multi", headers={"Accept": DOCKER_MANIFEST})
    assert old.status == 200
    assert old.headers["Docker-Content-Digest"] == amd
    assert old.body == amd_manifest


def test_index_with_missing_child_is_refused(client):
    present, _, _ = push_image(client, "idx", None, "present")
    missing = digest_of(b"no such manifest")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": present, "size": 1},
                {"mediaType": OCI_MANIFEST, "digest": missing, "size": 1},
            ],
        }
    ).encode()
    reply = client.put("/v2/idx/manifests/all", data=index, headers={"Content-Type": OCI_INDEX})
    assert reply.status == 400
    assert reply.json()["errors"] == [
        {"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": missing}
    ]


def test_manifest_digest_reference_must_match_body(client):
    config = b"{}"
    push_blob(client, "match", config)
    manifest = image_manifest(config, [])
    wrong = digest_of(b"other")
    reply = client.put(
        f"/v2/match/manifests/{wrong}", data=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert reply.status == 400 and reply.codes == ["DIGEST_INVALID"]
    right = client.put(
        f"/v2/match/manifests/{digest_of(manifest)}",
        data=manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert right.status == 201


def test_schema1_and_garbage_manifests_are_invalid(client):
    schema1 = json.dumps({"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []}).encode()
    reply = client.put(
        "/v2/old/manifests/v1",
        data=schema1,
        headers={"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"},
    )
    assert reply.status == 400 and reply.codes == ["MANIFEST_INVALID"]
    garbage = client.put(
        "/v2/old/manifests/v1", data=b"not json", headers={"Content-Type": OCI_MANIFEST}
    )
    assert garbage.status == 400 and garbage.codes == ["MANIFEST_INVALID"]


def test_sha512_blobs_and_manifests(client):
    data = os.urandom(5000)
    digest = digest_of(data, "sha512")
    location = client.post("/v2/five12/blobs/uploads/").headers["Location"]
    assert client.put(f"{location}?digest={digest}", data=data).status == 201
    assert client.get(f"/v2/five12/blobs/{digest}").body == data
    chunked = os.urandom(4000)
    location = client.post("/v2/five12/blobs/uploads/").headers["Location"]
    client.patch(location, data=chunked)
    done = client.put(f"{location}?digest={digest_of(chunked, 'sha512')}")
    assert done.status == 201
    config = b'{"os":"linux"}'
    push_blob(client, "five12", config)
    manifest = image_manifest(config, [])
    by512 = digest_of(manifest, "sha512")
    reply = client.put(
        f"/v2/five12/manifests/{by512}", data=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert reply.status == 201 and reply.headers["Docker-Content-Digest"] == by512
    assert client.get(f"/v2/five12/manifests/{by512}").body == manifest


def test_malformed_names_and_digests_are_client_errors(client):
    cases = [
        ("GET", "/v2/UPPER/tags/list"),
        ("GET", "/v2/a/blobs/sha256:xyz"),
        ("GET", "/v2/a/blobs/md5:d41d8cd98f00b204e9800998ecf8427e"),
        ("HEAD", "/v2/a/blobs/notadigest"),
        ("GET", "/v2/a/manifests/sha256:short"),
        ("GET", "/v2/a/manifests/bad%20tag"),
        ("PUT", "/v2/a/manifests/-bad"),
        ("DELETE", "/v2/a/blobs/sha256:zz"),
        ("GET", "/v2/a/referrers/nope:nope"),
        ("POST", "/v2/a/blobs/uploads/?digest=sha256:bad"),
        ("GET", "/v2/a//b/tags/list"),
        ("GET", "/v2/" + "a" * 300 + "/tags/list"),
    ]
    for method, path in cases:
        reply = client.request(method, path)
        assert reply.status in (400, 404), (method, path, reply.status)


def test_invalid_tag_is_unknown_for_reads_and_invalid_for_writes(client):
    """OCI conformance v1.1.1 and the CNCF registry: reading a tag that cannot exist is
    404 MANIFEST_UNKNOWN; writing one is still 400 TAG_INVALID."""
    push_image(client, "valid/repo", "v1", "tags")
    for tag in ("-leading-dash", ".dot", "x" * 129, "bad%20tag", "a*b"):
        for method in ("GET", "HEAD"):
            reply = client.request(method, f"/v2/valid/repo/manifests/{tag}")
            assert reply.status == 404, (method, tag, reply.status)
            if method == "GET":
                assert reply.codes == ["MANIFEST_UNKNOWN"], (tag, reply.body)
        manifest = image_manifest(b"{}", [])
        reply = client.put(
            f"/v2/valid/repo/manifests/{tag}",
            data=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert reply.status == 400 and reply.codes == ["TAG_INVALID"], (tag, reply.body)
        reply = client.delete(f"/v2/valid/repo/manifests/{tag}")
        assert reply.status == 400 and reply.codes == ["TAG_INVALID"], (tag, reply.body)
    assert client.get("/v2/valid/repo/manifests/v1").status == 200


def test_tags_list_and_pagination(client):
    for tag in ("b", "a", "d", "c", "e"):
        push_image(client, "paged", tag, "same")
    full = client.get("/v2/paged/tags/list")
    assert full.json() == {"name": "paged", "tags": ["a", "b", "c", "d", "e"]}
    page = client.get("/v2/paged/tags/list?n=2")
    assert page.json()["tags"] == ["a", "b"]
    assert page.headers["Link"] == '</v2/paged/tags/list?last=b&n=2>; rel="next"'
    page = client.get("/v2/paged/tags/list?n=2&last=b")
    assert page.json()["tags"] == ["c", "d"]
    page = client.get("/v2/paged/tags/list?n=2&last=d")
    assert page.json()["tags"] == ["e"]
    assert "Link" not in page.headers
    unknown = client.get("/v2/nosuchrepo/tags/list")
    assert unknown.status == 404
    assert unknown.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_catalog_and_pagination(client):
    for name in ("zeta", "alpha", "mid/dle"):
        push_image(client, name, "latest", name)
    assert client.get("/v2/_catalog").json() == {"repositories": ["alpha", "mid/dle", "zeta"]}
    page = client.get("/v2/_catalog?n=2")
    assert page.json() == {"repositories": ["alpha", "mid/dle"]}
    assert page.headers["Link"] == '</v2/_catalog?last=mid%2Fdle&n=2>; rel="next"'
    rest = client.get("/v2/_catalog?n=2&last=mid/dle")
    assert rest.json() == {"repositories": ["zeta"]} and "Link" not in rest.headers


def test_delete_manifest_by_tag_and_by_digest(client):
    digest, _, blobs = push_image(client, "del", "one", "del")
    client.put(
        "/v2/del/manifests/two",
        data=client.get("/v2/del/manifests/one").body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert client.delete("/v2/del/manifests/one").status == 202
    assert client.get("/v2/del/manifests/one").status == 404
    assert client.get("/v2/del/manifests/two").status == 200
    assert client.delete("/v2/del/manifests/one").status == 404
    assert client.delete(f"/v2/del/manifests/{digest}").status == 202
    assert client.get("/v2/del/manifests/two").status == 404
    assert client.get(f"/v2/del/manifests/{digest}").status == 404
    assert client.get("/v2/del/tags/list").json() == {"name": "del", "tags": []}
    again = client.delete(f"/v2/del/manifests/{digest}")
    assert again.status == 404 and again.codes == ["MANIFEST_UNKNOWN"]
    # the blobs stay until gc
    assert client.head(f"/v2/del/blobs/{digest_of(blobs[0])}").status == 200


def test_delete_blob(client):
    digest = push_blob(client, "delblob", b"to be deleted")
    assert client.delete(f"/v2/delblob/blobs/{digest}").status == 202
    assert client.head(f"/v2/delblob/blobs/{digest}").status == 404
    reply = client.delete(f"/v2/delblob/blobs/{digest}")
    assert reply.status == 404 and reply.codes == ["BLOB_UNKNOWN"]


def test_referrers_follow_subject_and_deletion(client):
    subject_digest, subject_manifest, _ = push_image(client, "signed", "v1", "signed")
    subject = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject_manifest)}
    empty = b"{}"
    push_blob(client, "signed", empty)
    signature = b"signature bytes"
    push_blob(client, "signed", signature)
    artifact = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.signature",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": digest_of(empty),
                "size": 2,
            },
            "layers": [
                {
                    "mediaType": "application/octet-stream",
                    "digest": digest_of(signature),
                    "size": len(signature),
                }
            ],
            "subject": subject,
            "annotations": {"org.example.kind": "sig"},
        }
    ).encode()
    artifact_digest = digest_of(artifact)
    reply = client.put(
        f"/v2/signed/manifests/{artifact_digest}",
        data=artifact,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert reply.status == 201
    assert reply.headers["OCI-Subject"] == subject_digest
    # an SBOM-like referrer whose artifactType comes from its config
    sbom_config = b'{"sbom":true}'
    push_blob(client, "signed", sbom_config)
    sbom = json.loads(image_manifest(sbom_config, []))
    sbom["config"]["mediaType"] = "application/vnd.example.sbom.config"
    sbom["subject"] = subject
    sbom_bytes = json.dumps(sbom).encode()
    assert (
        client.put(
            f"/v2/signed/manifests/{digest_of(sbom_bytes)}",
            data=sbom_bytes,
            headers={"Content-Type": OCI_MANIFEST},
        ).status
        == 201
    )

    listed = client.get(f"/v2/signed/referrers/{subject_digest}")
    assert listed.status == 200
    assert listed.headers["Content-Type"] == OCI_INDEX
    index = listed.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    by_digest = {m["digest"]: m for m in index["manifests"]}
    assert by_digest[artifact_digest] == {
        "mediaType": OCI_MANIFEST,
        "digest": artifact_digest,
        "size": len(artifact),
        "artifactType": "application/vnd.example.signature",
        "annotations": {"org.example.kind": "sig"},
    }
    assert by_digest[digest_of(sbom_bytes)]["artifactType"] == "application/vnd.example.sbom.config"

    filtered = client.get(
        f"/v2/signed/referrers/{subject_digest}?artifactType=application/vnd.example.signature"
    )
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in filtered.json()["manifests"]] == [artifact_digest]

    assert client.delete(f"/v2/signed/manifests/{artifact_digest}").status == 202
    after = client.get(f"/v2/signed/referrers/{subject_digest}").json()
    assert [m["digest"] for m in after["manifests"]] == [digest_of(sbom_bytes)]

    nothing = client.get(f"/v2/signed/referrers/{digest_of(b'unknown subject')}")
    assert nothing.status == 200
    assert nothing.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    assert OCI_CONFIG  # keep the import used


def test_an_index_can_be_a_referrer(client):
    subject, subject_manifest, _ = push_image(client, "idxref", "v1", "subject")
    child, _, _ = push_image(client, "idxref", None, "child")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "artifactType": "application/vnd.example.bundle",
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": child, "size": 1}],
            "subject": {
                "mediaType": OCI_MANIFEST,
                "digest": subject,
                "size": len(subject_manifest),
            },
        }
    ).encode()
    reply = client.put(
        f"/v2/idxref/manifests/{digest_of(index)}", data=index, headers={"Content-Type": OCI_INDEX}
    )
    assert reply.status == 201 and reply.headers["OCI-Subject"] == subject
    listed = client.get(f"/v2/idxref/referrers/{subject}").json()["manifests"]
    assert listed == [
        {
            "mediaType": OCI_INDEX,
            "digest": digest_of(index),
            "size": len(index),
            "artifactType": "application/vnd.example.bundle",
        }
    ]
    # a subject that was never pushed is fine (the referrer may come first)
    ghost = digest_of(b"not pushed yet")
    config = b"{}"
    push_blob(client, "idxref", config)
    early = json.loads(image_manifest(config, []))
    early["subject"] = {"mediaType": OCI_MANIFEST, "digest": ghost, "size": 10}
    early_bytes = json.dumps(early).encode()
    assert (
        client.put(
            f"/v2/idxref/manifests/{digest_of(early_bytes)}",
            data=early_bytes,
            headers={"Content-Type": OCI_MANIFEST},
        ).status
        == 201
    )
    assert [
        m["digest"] for m in client.get(f"/v2/idxref/referrers/{ghost}").json()["manifests"]
    ] == [digest_of(early_bytes)]
