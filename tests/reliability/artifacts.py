"""Inputs the suites feed dockyard: flat rootfs tars, layers, docker archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from dataclasses import dataclass, field


def _info(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 1_700_000_000
    return info


def tar_bytes(
    files: dict[str, bytes | None],
    links: dict[str, str] | None = None,
    fmt: int = tarfile.PAX_FORMAT,
) -> bytes:
    """``files``: name -> bytes (regular file) or None (directory); ``links``: symlinks."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for name, data in files.items():
            if data is None:
                archive.addfile(_info(name, tarfile.DIRTYPE, 0o755))
            else:
                info = _info(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = _info(name, tarfile.SYMTYPE, 0o777)
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


def random_tree(seed: int, files: int = 60, size: int = 16_384, top: str = "data") -> bytes:
    """A layer of ``files`` files in a few directories, contents from ``seed``."""
    rng = random.Random(seed)
    entries: dict[str, bytes | None] = {top: None}
    for d in range(4):
        entries[f"{top}/d{d}"] = None
    for n in range(files):
        entries[f"{top}/d{n % 4}/f{seed}-{n}"] = rng.randbytes(size)
    return tar_bytes(entries, {f"{top}/link{seed}": f"d0/f{seed}-0"})


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class ArchiveImage:
    layers: list[bytes]  # uncompressed layer tars, bottom first
    tags: list[str] = field(default_factory=list)
    gzip_top: bool = False  # store the top layer gzip-compressed in the archive
    comment: str = ""

    def config(self) -> bytes:
        return json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "created": "2024-01-01T00:00:00Z",
                "comment": self.comment,
                "config": {"Cmd": ["sh"]},
                "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in self.layers]},
                "history": [{"created": "2024-01-01T00:00:00Z"} for _ in self.layers],
            },
            sort_keys=True,
        ).encode()

    @property
    def id(self) -> str:
        return sha256(self.config())


def docker_archive(images: list[ArchiveImage]) -> bytes:
    """A pre-25 style docker archive (manifest.json, <hex>.json, <hex>/layer.tar)."""
    members: dict[str, bytes] = {}
    manifest = []
    for image in images:
        config = image.config()
        config_name = sha256(config)[7:] + ".json"
        members[config_name] = config
        names = []
        for position, layer in enumerate(image.layers):
            data = layer
            if image.gzip_top and position == len(image.layers) - 1:
                data = gzip.compress(layer, mtime=0)
            name = sha256(data)[7:] + "/layer.tar"
            members[name] = data
            names.append(name)
        manifest.append({"Config": config_name, "RepoTags": image.tags, "Layers": names})
    members["manifest.json"] = json.dumps(manifest).encode()
    return tar_bytes(dict(members.items()), fmt=tarfile.GNU_FORMAT)
