"""The docker-archive place: ``save`` writes it, ``load`` reads it.

Writing produces Docker 25+'s layout: an OCI image layout (``oci-layout``,
``index.json``, ``blobs/sha256/...`` with uncompressed layers named by diffID) plus
the legacy ``manifest.json`` and ``repositories``, byte-identical for the same input.

Reading accepts that layout, the pre-25 one (``<id>/layer.tar``, ``<id>.json``,
symlinks for repeated layers), skopeo's (``<hex>.tar``), and plain OCI image layout
archives (``index.json`` only, as ``skopeo copy ... oci-archive:`` writes), whole-archive
compressed or not, from a file or a stream. Layers are handed out as raw member bytes
with the digests to verify while streaming them (places/base.py's ``file_layer``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from dockyard import reference
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive, InvalidDigest, InvalidReference
from dockyard.layers.compression import detect_compression
from dockyard.oci import mediatypes as mt
from dockyard.places.base import Image, file_layer
from dockyard.places.layout_format import (
    INDEX_JSON,
    ArchiveImage,
    ArchiveLayer,
    LayoutFiles,
    LayoutReader,
    blob_path,
    go_json,
    invalid,
    layer_diff_ids,
    layout_files,
    plan_images,
    quoted,
)
from dockyard.places.layout_io import FileSource, LayoutWriter, select
from dockyard.places.tar_reader import TarArchive
from dockyard.places.tar_writer import tar_size, write_tar

__all__ = ["ArchiveImage", "ArchiveLayer", "go_json", "open_archive", "write_docker_archive"]

MANIFEST_JSON = "manifest.json"
REPOSITORIES = "repositories"
# Layers in manifest.json archives carry no media type: it is sniffed. Docker's loader
# also accepts bzip2 and xz layers; these pseudo types name them for the layer codec.
_SNIFFED_LAYER_TYPES = {
    "none": mt.OCI_LAYER,
    "gzip": mt.OCI_LAYER_GZIP,
    "zstd": mt.OCI_LAYER_ZSTD,
    "bzip2": "application/vnd.oci.image.layer.v1.tar+bzip2",
    "xz": "application/vnd.oci.image.layer.v1.tar+xz",
}


def docker_archive_files(
    images: Sequence[ArchiveImage], repositories_order: Sequence[str] = ()
) -> LayoutFiles:
    """The OCI layout of ``images`` with Docker's manifest.json and repositories;
    ``repositories_order`` puts these repository names first (else sorted, as Docker)."""
    planned = plan_images(images)
    files = layout_files(planned)
    items: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for image in planned:
        for ref in image.refs if image.layers else ():
            repositories.setdefault(ref.familiar_name, {})[ref.tag] = image.layers[-1].diff_id.hex  # type: ignore[index]
        items.append(
            {
                "Config": blob_path(Digest.of_bytes(image.config)),
                "RepoTags": [ref.familiar() for ref in image.refs] or None,
                "Layers": [blob_path(layer.diff_id) for layer in image.layers],
            }
        )
    files[MANIFEST_JSON] = go_json(items) + b"\n"
    if repositories:
        order = dict.fromkeys([*repositories_order, *sorted(repositories)])
        ordered = {
            name: dict(sorted(repositories[name].items())) for name in order if name in repositories
        }
        files[REPOSITORIES] = go_json(ordered) + b"\n"
    return files


def archive_size(images: Sequence[ArchiveImage], repositories_order: Sequence[str] = ()) -> int:
    """The exact byte count ``write_docker_archive`` writes (a Content-Length)."""
    return tar_size(docker_archive_files(images, repositories_order))


def write_docker_archive(
    out: BinaryIO, images: Sequence[ArchiveImage], repositories_order: Sequence[str] = ()
) -> None:
    """Write ``images`` to ``out`` as a Docker 25+ archive, each blob once. Layer bytes
    are not hashed here: the caller vouches that they match their diff IDs and sizes
    (a shorter layer raises DockyardError)."""
    write_tar(out, docker_archive_files(images, repositories_order))


class DockerArchiveReader(TarArchive):
    """The images of a docker-archive or OCI archive (``layout``: "docker", with a
    manifest.json of any version, or "oci"), read from a path or a stream; a context
    manager. Layer openers are valid until ``close()``."""

    def __init__(
        self,
        source: Path | str | BinaryIO,
        tmpdir: Path | str,
        platform: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(source, tmpdir)
        try:
            reader = LayoutReader(self, platform)
            if MANIFEST_JSON in self.members:
                self.layout, images = "docker", _docker_images(reader)
            elif INDEX_JSON in self.members:
                self.layout, images = "oci", reader.oci_images()
            else:
                raise _not_an_image_archive(self.members)
            self.images = _merge_by_id(images)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> DockerArchiveReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


open_archive = DockerArchiveReader


def _not_an_image_archive(members: dict[str, Any]) -> InvalidArchive:
    if not members:
        return invalid("the archive is empty")
    if REPOSITORIES in members:
        return invalid(
            "legacy v1 archive (repositories and <id>/json, no manifest.json) is not supported"
        )
    looks_flat = any(name in members for name in ("bin", "etc", "usr", "lib"))
    hint = " (this looks like a filesystem tar: use import)" if looks_flat else ""
    return invalid(f"no manifest.json, index.json or repositories found{hint}")


def _docker_images(reader: LayoutReader) -> list[Image]:
    try:
        items = json.loads(reader.read_file(MANIFEST_JSON))
    except (ValueError, UnicodeDecodeError) as error:
        raise invalid(f"manifest.json is not valid JSON: {error}") from None
    if not isinstance(items, list):
        raise invalid("manifest.json must be a JSON array")
    if not items:
        raise invalid("manifest.json lists no images")
    return [_docker_image(reader, f"manifest.json entry {n}", item) for n, item in enumerate(items)]


def _docker_image(reader: LayoutReader, what: str, item: Any) -> Image:
    if not isinstance(item, dict):
        raise invalid(f"{what} must be an object")
    config_path, layer_paths, repo_tags = (
        _field(item, name) for name in ("Config", "Layers", "RepoTags")
    )
    if not isinstance(layer_paths, list):
        raise invalid(f"{what}: Layers must be a list")
    if repo_tags is not None and not isinstance(repo_tags, list):
        raise invalid(f"{what}: RepoTags must be a list")
    config = reader.read_small(reader.members.find(config_path, what), f"config {config_path}")
    claimed = _digest_named(config_path)
    if claimed is not None and Digest.of_bytes(config, claimed.algorithm) != claimed:
        raise invalid(
            f"config {config_path} does not match its digest "
            f"(content is {Digest.of_bytes(config, claimed.algorithm)})"
        )
    diff_ids = layer_diff_ids(config, len(layer_paths))
    layers = []
    for path, diff_id in zip(layer_paths, diff_ids, strict=True):
        file = reader.members.find(path, what)
        with file.open() as stream:
            media_type = _SNIFFED_LAYER_TYPES[detect_compression(stream.read(6))]
        named = _digest_named(path) if path.startswith("blobs/") else None
        layers.append(file_layer(diff_id, media_type, file.size, named, file.open))
    return Image(config, layers, [reference.parse(_repo_tag(tag)) for tag in repo_tags or []])


def _field(obj: dict[str, Any], name: str) -> Any:
    """A field looked up as Go's encoding/json does: exact name first, then any case."""
    if name in obj:
        return obj[name]
    return next((value for key, value in obj.items() if key.lower() == name.lower()), None)


def _digest_named(path: str) -> Digest | None:
    """The digest a member path claims: ``blobs/<alg>/<hex>`` or ``<hex>.json``."""
    parts = path.split("/")
    try:
        if len(parts) == 3 and parts[0] == "blobs":
            return Digest.parse(f"{parts[1]}:{parts[2]}")
        if len(parts) == 1 and parts[0].endswith(".json"):
            return Digest.parse(f"sha256:{parts[0][:-5]}")
    except InvalidDigest:
        pass
    return None


def _repo_tag(text: Any) -> str:
    if not isinstance(text, str):
        raise invalid("manifest.json: RepoTags must be strings")
    try:
        ref = reference.parse(text)
    except InvalidReference as error:
        raise invalid(f"invalid tag {quoted(text)}: {error}") from None
    if ref.tag is None or ref.digest is not None:
        raise invalid(f"invalid tag {quoted(text)}")
    return ref.familiar()


def _merge_by_id(images: list[Image]) -> list[Image]:
    """One entry per image ID (an OCI index may list an image once per name)."""
    merged: dict[Digest, Image] = {}
    for image in images:
        existing = merged.setdefault(image.id, Image(image.config, image.layers))
        existing.names.extend(name for name in image.names if name not in existing.names)
        existing.ref_names.extend(image.ref_names)
    return list(merged.values())


class DockerArchiveSource(FileSource):
    """The images of a docker-archive (any version) or OCI archive, for load and copy."""

    def __init__(
        self, source: Path | str | BinaryIO, tmpdir: Path | str, wanted: str | None = None
    ) -> None:
        self.reader = DockerArchiveReader(source, tmpdir)
        try:
            self._images = select(self.reader.images, wanted)
        except BaseException:
            self.reader.close()
            raise

    def close_files(self) -> None:
        self.reader.close()


class DockerArchiveDestination(LayoutWriter):
    """A Docker 25 archive written to ``out`` at commit (save, copy)."""

    def __init__(self, out: BinaryIO, names: list[reference.Reference] | None = None) -> None:
        super().__init__(names)
        self.out = out

    def write(self) -> None:
        write_docker_archive(self.out, self.images)
