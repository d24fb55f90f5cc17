"""Build small OCI image layouts for the registry tests (gzip or zstd layers, indexes)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import zstandard

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def compress(data: bytes, kind: str) -> tuple[bytes, str]:
    if kind == "gzip":
        return gzip.compress(data, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    if kind == "zstd":
        return (
            zstandard.ZstdCompressor().compress(data),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        )
    return data, "application/vnd.oci.image.layer.v1.tar"


class Layout:
    """An OCI image layout directory being written."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as stream:
            json.dump({"imageLayoutVersion": "1.0.0"}, stream)
        self.entries: list[dict] = []

    def blob(self, data: bytes) -> str:
        digest = sha256(data)
        with open(os.path.join(self.path, "blobs", "sha256", digest[7:]), "wb") as stream:
            stream.write(data)
        return digest

    def image(
        self,
        files: dict[str, bytes],
        compression: str = "gzip",
        arch: str = "amd64",
        extra_layers: list[bytes] = (),
    ) -> tuple[bytes, dict]:
        """Write config + layers + manifest; (manifest bytes, descriptor)."""
        layers = []
        diff_ids = []
        for raw in [layer_tar(files), *extra_layers]:
            blob, media_type = compress(raw, compression)
            layers.append({"mediaType": media_type, "digest": self.blob(blob), "size": len(blob)})
            diff_ids.append(sha256(raw))
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "created": "2026-01-01T00:00:00Z",
                "config": {"Cmd": ["/bin/sh"]},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "test"}],
            }
        ).encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": OCI_CONFIG,
                    "digest": self.blob(config),
                    "size": len(config),
                },
                "layers": layers,
            }
        ).encode()
        descriptor = {
            "mediaType": OCI_MANIFEST,
            "digest": self.blob(manifest),
            "size": len(manifest),
            "platform": {"architecture": arch, "os": "linux"},
        }
        return manifest, descriptor

    def add(self, descriptor: dict, tag: str | None = None) -> None:
        entry = dict(descriptor)
        if tag:
            entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.entries.append(entry)

    def index(self, descriptors: list[dict]) -> tuple[bytes, dict]:
        data = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
        ).encode()
        return data, {"mediaType": OCI_INDEX, "digest": self.blob(data), "size": len(data)}

    def close(self) -> None:
        with open(os.path.join(self.path, "index.json"), "w") as stream:
            json.dump({"schemaVersion": 2, "manifests": self.entries}, stream)
