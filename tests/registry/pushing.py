"""Push blobs and manifests through the API (for tests that need content in place)."""

from __future__ import annotations

import hashlib
import json

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def push_blob(client, repo: str, data: bytes, auth=None) -> str:
    digest = digest_of(data)
    reply = client.post(f"/v2/{repo}/blobs/uploads/?digest={digest}", data=data, auth=auth)
    assert reply.status == 201, (reply.status, reply.body)
    return digest


def image_manifest(
    config: bytes, layers: list[bytes], docker: bool = False, subject=None, artifact_type=None
) -> bytes:
    body = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "digest": digest_of(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": DOCKER_LAYER if docker else OCI_LAYER,
                "digest": digest_of(layer),
                "size": len(layer),
            }
            for layer in layers
        ],
    }
    if subject is not None:
        body["subject"] = subject
    if artifact_type is not None:
        body["artifactType"] = artifact_type
    return json.dumps(body).encode()


def push_image(
    client, repo: str, tag: str | None, seed: str, docker: bool = False, auth=None, layers: int = 1
) -> tuple[str, bytes, list[bytes]]:
    """Push a config, layers and a manifest; (manifest digest, manifest, blobs)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    blobs = [f"layer {i} of {seed}".encode() * 100 for i in range(layers)]
    for blob in [config, *blobs]:
        push_blob(client, repo, blob, auth=auth)
    manifest = image_manifest(config, blobs, docker)
    reference = tag or digest_of(manifest)
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    reply = client.put(
        f"/v2/{repo}/manifests/{reference}",
        data=manifest,
        headers={"Content-Type": media_type},
        auth=auth,
    )
    assert reply.status == 201, (reply.status, reply.body)
    return digest_of(manifest), manifest, [config, *blobs]
