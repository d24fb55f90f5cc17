"""Strict parsing of manifests, indexes and image configs from outside."""

from __future__ import annotations

import json

import pytest

from dockyard.digest import Digest
from dockyard.errors import InvalidArchive
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import (
    Index,
    Manifest,
    chain_ids,
    parse_image_config,
    parse_manifest_or_index,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def manifest(**overrides) -> bytes:  # type: ignore[no-untyped-def]
    body = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": 10},
        "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": D2, "size": 20}],
    }
    body.update(overrides)
    return json.dumps(body).encode()


def test_manifest_index_and_docker_types() -> None:
    parsed = parse_manifest_or_index(manifest())
    assert isinstance(parsed, Manifest) and parsed.layers[0].digest == Digest.parse(D2)
    docker = parse_manifest_or_index(manifest(mediaType=mt.DOCKER_MANIFEST))
    assert isinstance(docker, Manifest) and docker.media_type == mt.DOCKER_MANIFEST
    index = parse_manifest_or_index(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": mt.OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": mt.OCI_MANIFEST,
                        "digest": D1,
                        "size": 5,
                        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
                    }
                ],
            }
        ).encode()
    )
    assert isinstance(index, Index) and index.manifests[0].platform.variant == "v8"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "manifest is not valid JSON"),
        (b"[]", "manifest must be a JSON object"),
        (
            json.dumps({"schemaVersion": 1, "name": "x"}).encode(),
            "manifest schema 1 is not supported",
        ),
        (manifest(schemaVersion=3), "schemaVersion must be 2"),
        (manifest(schemaVersion=True), "schemaVersion must be 2"),
        (
            manifest(config={"mediaType": mt.OCI_CONFIG, "digest": "sha256:abc", "size": 1}),
            "invalid checksum",
        ),
        (manifest(config={"mediaType": mt.OCI_CONFIG, "digest": D1, "size": -1}), "negative size"),
        (manifest(config={"mediaType": mt.OCI_CONFIG, "digest": D1, "size": "1"}), "'size'"),
        (manifest(layers="x"), "'layers'"),
        (manifest(mediaType="application/x-unknown"), "unsupported media type"),
        (b" " * (5 << 20), "too large"),
    ],
)
def test_hostile_manifests_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(InvalidArchive) as caught:
        parse_manifest_or_index(body)
    assert message in str(caught.value)


def test_declared_type_must_agree_with_body() -> None:
    with pytest.raises(InvalidArchive, match="does not match"):
        parse_manifest_or_index(manifest(), mt.DOCKER_MANIFEST)


def test_config_parsing_and_chain_ids() -> None:
    raw = json.dumps(
        {"rootfs": {"type": "layers", "diff_ids": [D1, D2]}, "created": "2026-01-01T00:00:00Z"}
    ).encode()
    config = parse_image_config(raw)
    assert config.id == Digest.of_bytes(raw) and config.diff_ids == [
        Digest.parse(D1),
        Digest.parse(D2),
    ]
    chains = chain_ids(config.diff_ids)
    assert chains[0] == Digest.parse(D1)
    assert chains[1] == Digest.of_bytes(f"{D1} {D2}".encode())
    for bad in (
        {"rootfs": {"type": "other", "diff_ids": []}},
        {"rootfs": {"type": "layers", "diff_ids": "x"}},
        {"rootfs": {"type": "layers", "diff_ids": ["sha256:zz"]}},
        {"rootfs": {"type": "layers", "diff_ids": []}, "config": []},
        {"rootfs": {"type": "layers", "diff_ids": []}, "history": ["x"]},
    ):
        with pytest.raises(InvalidArchive):
            parse_image_config(json.dumps(bad).encode())
