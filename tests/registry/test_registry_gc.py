"""Online garbage collection: what it removes, what it keeps, and pushes running beside it."""

from __future__ import annotations

import json
import os
import threading
import time

from tests.registry.conftest import Client
from tests.registry.pushing import (
    OCI_INDEX,
    OCI_MANIFEST,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
)

HOURS = 7200.0


def backdate(registry, seconds: float = HOURS) -> None:
    """Make everything stored so far look old (as if pushed hours ago)."""
    from dockyard.registry.metadata_open import open_metadata

    storage = registry.storage
    meta = open_metadata(registry.metadata, storage)
    with meta.write() as db:
        db.execute("UPDATE repo_blobs SET linked = linked - ?", (seconds,))
        db.execute("UPDATE blobs SET created = created - ?", (seconds,))
        db.execute("UPDATE manifests SET created = created - ?", (seconds,))
        db.execute(
            "UPDATE uploads SET updated = updated - ?, started = started - ?", (seconds, seconds)
        )
    meta.close()
    if "://" in storage:
        return  # an object store keeps its own times: gc judges by the rows' times there
    old = time.time() - seconds
    for top in ("blobs", "uploads"):
        for directory, dirs, files in os.walk(os.path.join(storage, top)):
            for name in files + dirs:
                os.utime(os.path.join(directory, name), (old, old))


def storage_driver(storage: str):  # type: ignore[no-untyped-def]
    """The registry's own driver for its storage (a directory, or a bucket)."""
    from dockyard.registry.storage import open_driver

    return open_driver(storage)


def blob_files(storage: str) -> set[str]:
    found = set()
    driver = storage_driver(storage)
    try:
        for info in driver.walk("blobs"):
            parts = info.path.split("/")  # blobs/<algorithm>/<xx>/<hex>/data
            if len(parts) == 5 and parts[4] == "data":
                found.add(f"{parts[1]}:{parts[3]}")
    finally:
        driver.close()
    return found


def test_gc_removes_unreferenced_blobs_and_keeps_tagged_images(registry, client):
    storage = registry.storage
    kept_digest, kept_manifest, kept_blobs = push_image(client, "app", "v1", "kept", layers=2)
    # a second image sharing one layer with the first, then deleted
    gone_config = b'{"gone":true}'
    gone_layer = b"only in the deleted image" * 50
    for blob in (gone_config, gone_layer):
        push_blob(client, "app", blob)
    gone_manifest = image_manifest(gone_config, [kept_blobs[1], gone_layer])
    assert (
        client.put(
            "/v2/app/manifests/old", data=gone_manifest, headers={"Content-Type": OCI_MANIFEST}
        ).status
        == 201
    )
    assert client.delete(f"/v2/app/manifests/{digest_of(gone_manifest)}").status == 202
    lone = push_blob(client, "other", b"uploaded and never used")
    stale = client.post("/v2/app/blobs/uploads/").headers["Location"]
    client.patch(stale, data=b"abandoned")
    backdate(registry)

    garbage = {digest_of(gone_config), digest_of(gone_layer), digest_of(gone_manifest), lone}
    before = blob_files(storage)
    assert garbage <= before

    dry = registry.cli("gc", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    for digest in garbage:
        assert f"would delete blob {digest}" in dry.stdout
    assert blob_files(storage) == before

    result = registry.cli("gc", "--upload-grace", "3600")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("0 manifests, 4 blobs, 1 uploads deleted")
    assert blob_files(storage) == before - garbage
    assert client.head(f"/v2/other/blobs/{lone}").status == 404
    assert client.get(stale).status == 404
    # the tagged image is whole
    got = client.get("/v2/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert got.status == 200 and got.body == kept_manifest
    for blob in kept_blobs:
        assert client.get(f"/v2/app/blobs/{digest_of(blob)}").body == blob
    assert client.get(f"/v2/app/manifests/{kept_digest}").status == 200


def test_gc_keeps_everything_within_the_grace_period(registry, client):
    push_blob(client, "fresh", b"just uploaded, not yet in a manifest")
    digest, _, _ = push_image(client, "fresh", None, "pushed by digest only")
    client.delete(f"/v2/fresh/manifests/{digest}")
    before = blob_files(registry.storage)
    result = registry.cli("gc", "--delete-untagged")
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1].startswith("0 manifests, 0 blobs, 0 uploads deleted")
    assert blob_files(registry.storage) == before


def test_gc_delete_untagged_follows_indexes_and_referrers(registry, client):
    tagged, tagged_manifest, _ = push_image(client, "u", "v1", "tagged")
    untagged, _, untagged_blobs = push_image(client, "u", None, "untagged")
    child, _, _ = push_image(client, "u", None, "child of a tagged index")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": child, "size": 1}],
        }
    ).encode()
    assert (
        client.put("/v2/u/manifests/multi", data=index, headers={"Content-Type": OCI_INDEX}).status
        == 201
    )
    # a signature of the tagged image (untagged, but a referrer of a kept manifest)
    empty = b"{}"
    push_blob(client, "u", empty)
    signature = json.loads(image_manifest(empty, []))
    signature["subject"] = {
        "mediaType": OCI_MANIFEST,
        "digest": tagged,
        "size": len(tagged_manifest),
    }
    signature_bytes = json.dumps(signature).encode()
    sig = digest_of(signature_bytes)
    assert (
        client.put(
            f"/v2/u/manifests/{sig}", data=signature_bytes, headers={"Content-Type": OCI_MANIFEST}
        ).status
        == 201
    )
    backdate(registry)

    plain = registry.cli("gc")
    assert plain.stdout.splitlines()[-1].startswith("0 manifests, 0 blobs")
    result = registry.cli("gc", "--delete-untagged")
    assert result.returncode == 0, result.stderr
    assert f"deleted manifest u@{untagged}" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 manifests, ")
    assert client.get(f"/v2/u/manifests/{untagged}").status == 404
    for blob in untagged_blobs:
        assert client.head(f"/v2/u/blobs/{digest_of(blob)}").status == 404
    for kept in (tagged, child, sig):
        assert client.get(f"/v2/u/manifests/{kept}").status == 200
    assert [m["digest"] for m in client.get(f"/v2/u/referrers/{tagged}").json()["manifests"]] == [
        sig
    ]


def test_gc_beside_pushes_loses_nothing(registry):
    """Pushes (some reusing old unreferenced layers, as "Layer already exists" does) run
    while gc sweeps again and again; every push succeeds and every image stays whole."""
    from dockyard.registry.gc import GcPolicy, collect
    from dockyard.registry.metadata_open import open_metadata

    storage = registry.storage
    setup = Client(registry.url)
    # old layers nothing references any more: gc candidates the pushes will reuse
    old_layers = [f"old shared layer {i}".encode() * 200 for i in range(10)]
    for layer in old_layers:
        push_blob(setup, "work", layer)
    garbage = [push_blob(setup, "junk", f"junk {i}".encode()) for i in range(20)]
    backdate(registry)
    setup.close()

    errors: list[str] = []
    pushed: list[tuple[str, bytes, list[bytes]]] = []
    done = threading.Event()

    def pusher() -> None:
        client = Client(registry.url)
        try:
            for i in range(40):
                config = json.dumps({"os": "linux", "n": i}).encode()
                layers = [old_layers[i % len(old_layers)], f"fresh layer {i}".encode() * 100]
                for blob in [config, *layers]:
                    digest = digest_of(blob)
                    if client.head(f"/v2/work/blobs/{digest}").status != 200:
                        push_blob(client, "work", blob)
                manifest = image_manifest(config, layers)
                reply = client.put(
                    f"/v2/work/manifests/t{i}",
                    data=manifest,
                    headers={"Content-Type": OCI_MANIFEST},
                )
                if reply.status != 201:
                    errors.append(f"push {i}: {reply.status} {reply.body[:200]!r}")
                pushed.append((f"t{i}", manifest, [config, *layers]))
        except Exception as error:  # noqa: BLE001
            errors.append(repr(error))
        finally:
            client.close()
            done.set()

    driver = storage_driver(storage)
    meta = open_metadata(registry.metadata, storage)
    runs = []
    thread = threading.Thread(target=pusher)
    thread.start()
    try:
        while not done.is_set():
            runs.append(collect(driver, meta, GcPolicy(grace=60, upload_grace=60)))
    finally:
        thread.join()
    runs.append(collect(driver, meta, GcPolicy(grace=60, upload_grace=60)))

    assert errors == []
    assert len(runs) >= 2
    swept = {digest for report in runs for digest, _ in report.blobs}
    assert set(garbage) <= swept  # gc did work during the pushes
    check = Client(registry.url)
    try:
        for tag, manifest, blobs in pushed:
            got = check.get(f"/v2/work/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
            assert got.status == 200 and got.body == manifest
            for blob in blobs:
                reply = check.get(f"/v2/work/blobs/{digest_of(blob)}")
                assert reply.status == 200 and reply.body == blob, tag
    finally:
        check.close()
    # no manifest anywhere names a blob that is gone
    present = blob_files(storage)
    for (child,) in meta.all("SELECT child FROM manifest_refs WHERE kind = 'blob'"):
        assert child in present
    meta.close()
