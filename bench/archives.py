"""Docker archives (the pre-25 layout every peer loads) made for the scenarios."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

CREATED = "2024-01-01T00:00:00Z"


def _layer(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1_700_000_000
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def _config(diff_ids: list[str], labels: dict[str, str]) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {"Cmd": ["sh"], "Labels": labels},
        "history": [{"created": CREATED, "created_by": f"layer {i}"} for i in range(len(diff_ids))],
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def write_archive(path: Path, images: list[tuple[str, list[bytes], dict[str, str]]]) -> None:
    """images: (tag, layer tars, labels); layers shared by content are stored once."""
    manifest = []
    written: set[str] = set()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        for tag, layers, labels in images:
            names = []
            diff_ids = []
            for layer in layers:
                hexdigest = hashlib.sha256(layer).hexdigest()
                diff_ids.append(f"sha256:{hexdigest}")
                names.append(f"{hexdigest}/layer.tar")
                if hexdigest not in written:
                    written.add(hexdigest)
                    _add(archive, f"{hexdigest}/VERSION", b"1.0")
                    _add(archive, f"{hexdigest}/layer.tar", layer)
            config = _config(diff_ids, labels)
            config_name = hashlib.sha256(config).hexdigest() + ".json"
            _add(archive, config_name, config)
            manifest.append({"Config": config_name, "RepoTags": [tag], "Layers": names})
        _add(archive, "manifest.json", json.dumps(manifest).encode())


def many_images(path: Path, count: int, per_layer: int = 20) -> list[str]:
    """`count` distinct images (configs differ by a label), `per_layer` of them on each
    small layer: loading 500 layers takes Docker minutes, and Podman's `images` is
    quadratic in the number of images sharing a top layer."""
    tags = [f"bench/many{i}:latest" for i in range(count)]
    layers = [_layer({"bench.txt": f"layer {n}\n".encode()}) for n in range(-(-count // per_layer))]
    write_archive(
        path,
        [(tag, [layers[i // per_layer]], {"bench.n": str(i)}) for i, tag in enumerate(tags)],
    )
    return tags


def layered_image(path: Path, tag: str, layers: int = 10, size: int = 1 << 20) -> None:
    """One image of `layers` layers, each holding `size` random bytes in its own file."""
    tars = [_layer({f"layer{i}/data.bin": os.urandom(size)}) for i in range(layers)]
    write_archive(path, [(tag, tars, {})])
