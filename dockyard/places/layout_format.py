"""The OCI image layout format (``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``):
read from a directory or from inside an archive, planned for writing.

Docker 25's docker-archive is an OCI layout plus two legacy files (docker_archive.py),
an OCI archive is the layout as a tar (oci_archive.py) and ``oci:DIR`` is the layout
on disk. Reading verifies every manifest and config against its digest and size;
layers are handed out as raw blob bytes with the digests to verify while streaming.
"""

from __future__ import annotations

import json
import platform as host_platform
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, BinaryIO

from dockyard import gojson, reference
from dockyard.datarecord import dataclass, field
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive, InvalidReference
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import (
    Descriptor,
    Index,
    Manifest,
    load_json_object,
    parse_image_config,
    parse_manifest_or_index,
)
from dockyard.places.base import Image, file_layer

INDEX_JSON = "index.json"
OCI_LAYOUT = "oci-layout"
OCI_LAYOUT_CONTENT = b'{"imageLayoutVersion": "1.0.0"}'
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
MAX_INDEX_DEPTH = 4


@dataclass
class ArchiveLayer:
    """One layer to write: ``open()`` yields the uncompressed tar, exactly ``tar_size``
    bytes, unless ``blob`` names the (compressed) blob it yields instead."""

    diff_id: Digest
    tar_size: int
    open: Callable[[], AbstractContextManager[BinaryIO]]
    blob: Descriptor | None = None  # set: ``open()`` yields this blob, written as is (OCI)

    @property
    def descriptor(self) -> Descriptor:
        return self.blob or Descriptor(mt.OCI_LAYER, self.diff_id, self.tar_size)


@dataclass
class ArchiveImage:
    """One image to save: its exact config bytes, familiar ``name:tag`` strings and layers."""

    config: bytes
    repo_tags: list[str]
    layers: list[ArchiveLayer]


@dataclass
class PlannedMember:
    """A regular file of the archive: bytes in ``data``, or a layer opened when written."""

    path: str
    size: int
    data: bytes | None = None
    layer: ArchiveLayer | None = None


def go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it (compact, HTML characters escaped), as bytes."""
    return gojson.go_json(value).encode()


def blob_path(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def _platform_of(config: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(config.get("architecture"), str) or not isinstance(config.get("os"), str):
        return None
    result: dict[str, Any] = {"architecture": config["architecture"], "os": config["os"]}
    for key in ("os.version", "os.features", "variant"):
        if config.get(key):
            result[key] = config[key]
    return result


@dataclass
class _PlannedImage:
    config: bytes
    refs: list[reference.Reference] = field(default_factory=list)
    layers: list[ArchiveLayer] = field(default_factory=list)
    platform: dict[str, Any] | None = None


def _plan_images(images: Sequence[ArchiveImage]) -> list[_PlannedImage]:
    """Check each image against its config and merge images saved twice (by image ID)."""
    planned: dict[Digest, _PlannedImage] = {}
    for image in images:
        config = parse_image_config(image.config)
        diff_ids = [layer.diff_id for layer in image.layers]
        if diff_ids != config.diff_ids:
            raise ValueError(
                f"image {config.id}: layers {[str(d) for d in diff_ids]} do not match "
                f"the config's rootfs.diff_ids"
            )
        entry = planned.setdefault(
            config.id,
            _PlannedImage(image.config, [], list(image.layers), _platform_of(config.data)),
        )
        for tag in image.repo_tags:
            ref = reference.parse(tag)
            if ref.digest is not None:
                continue  # as Docker: a digest reference is no tag to save
            ref = ref.with_default_tag()
            if ref not in entry.refs:
                entry.refs.append(ref)
    return list(planned.values())


def _manifest_bytes(image: _PlannedImage) -> bytes:
    config_desc: dict[str, Any] = {
        "mediaType": mt.OCI_CONFIG,
        "digest": str(Digest.of_bytes(image.config)),
        "size": len(image.config),
    }
    if image.platform:
        config_desc["platform"] = image.platform
    return go_json(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": config_desc,
            "layers": [
                {
                    "mediaType": layer.descriptor.media_type,
                    "digest": str(layer.descriptor.digest),
                    "size": layer.descriptor.size,
                }
                for layer in image.layers
            ],
        }
    )


def _add_blob(blobs: dict[str, PlannedMember], blob: PlannedMember) -> None:
    existing = blobs.get(blob.path)
    if existing is None:
        blobs[blob.path] = blob
    elif existing.size != blob.size:
        raise ValueError(f"{blob.path} is given with two sizes: {existing.size} and {blob.size}")


def default_platform() -> tuple[str, str]:
    machine = host_platform.machine().lower()
    arch = {
        "x86_64": "amd64",
        "amd64": "amd64",
        "aarch64": "arm64",
        "arm64": "arm64",
        "armv7l": "arm",
        "i686": "386",
        "i386": "386",
    }.get(machine, machine)
    return "linux", arch


def quoted(text: str) -> str:
    return json.dumps(text)


def _tags_from_annotations(annotations: dict[str, str] | None) -> list[str]:
    """Docker's ``io.containerd.image.name``, else a ref.name that is a full reference.

    A ref.name that is a bare tag (``latest``, ``1.0``) names no repository: such an
    image is loaded untagged.
    """
    if not annotations:
        return []
    name = annotations.get(ANNOTATION_IMAGE_NAME)
    if not name:
        ref_name = annotations.get(ANNOTATION_REF_NAME) or ""
        if ":" not in ref_name and "/" not in ref_name:
            return []
        name = ref_name
    try:
        ref = reference.parse(name)
    except InvalidReference as error:
        raise InvalidArchive(
            f"invalid archive: invalid image name {quoted(name)}: {error}"
        ) from None
    if ref.digest is not None and ref.tag is None:
        return []
    return [reference.Reference(ref.domain, ref.path, ref.tag or reference.DEFAULT_TAG).familiar()]


def docker_annotations(ref: reference.Reference) -> dict[str, str]:
    """Docker 25's index.json names: the full reference and the tag."""
    assert ref.tag is not None
    return {ANNOTATION_IMAGE_NAME: str(ref), ANNOTATION_REF_NAME: ref.tag}


def oci_annotations(ref: reference.Reference) -> dict[str, str]:
    """An OCI layout's name for an image: its familiar reference as ref.name."""
    return {ANNOTATION_REF_NAME: ref.familiar()}


@dataclass
class PlannedLayout:
    blobs: dict[str, PlannedMember]
    index_json: bytes
    images: list[_PlannedImage]


def plan_layout(
    images: Sequence[ArchiveImage],
    annotate: Callable[[reference.Reference], dict[str, str]] = docker_annotations,
    ref_name: str | None = None,
) -> PlannedLayout:
    """Blobs (each once) and index.json of a layout holding ``images``; ``annotate``
    names an index entry after a reference, ``ref_name`` names every image instead."""
    blobs: dict[str, PlannedMember] = {}
    index_entries: list[dict[str, Any]] = []
    planned = _plan_images(images)
    for image in planned:
        image_id = Digest.of_bytes(image.config)
        _add_blob(blobs, PlannedMember(blob_path(image_id), len(image.config), data=image.config))
        for layer in image.layers:
            blob = layer.descriptor
            if blob.size < 0:
                raise ValueError(f"layer {layer.diff_id}: negative size")
            _add_blob(blobs, PlannedMember(blob_path(blob.digest), blob.size, layer=layer))
        manifest = _manifest_bytes(image)
        manifest_digest = Digest.of_bytes(manifest)
        _add_blob(blobs, PlannedMember(blob_path(manifest_digest), len(manifest), data=manifest))
        descriptor: dict[str, Any] = {
            "mediaType": mt.OCI_MANIFEST,
            "digest": str(manifest_digest),
            "size": len(manifest),
        }
        named = [annotate(ref) for ref in image.refs]
        if ref_name is not None:
            named = [{ANNOTATION_REF_NAME: ref_name}]
        for names in named or [None]:
            entry = dict(descriptor)
            if names:
                entry["annotations"] = names
            if image.platform:
                entry["platform"] = image.platform
            index_entries.append(entry)
    index = go_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": index_entries})
    return PlannedLayout(blobs, index, planned)


def layout_members(
    blobs: dict[str, PlannedMember], files: dict[str, bytes]
) -> list[PlannedMember | str]:
    """A layout's members in archive order: directory names (str) and files."""
    entries: dict[str, PlannedMember | str] = {}
    for path, blob in blobs.items():
        parts = path.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth]) + "/"
            entries[directory] = directory
        entries[path] = blob
    for name, data in files.items():
        entries[name] = PlannedMember(name, len(data), data=data)
    return [entries[name] for name in sorted(entries)]


# ---------------------------------------------------------------------------
# reading


class LayoutReading:
    """Reads the images of an OCI layout; the class using it provides the files
    (``_has``, ``_member``, ``_read_small``, ``_opener``) and ``_platform``."""

    _platform: tuple[str, str]

    def _has(self, name: str) -> bool:
        raise NotImplementedError

    def _member(self, path: Any, what: str, follow_links: bool = True) -> Any:
        raise NotImplementedError

    def _read_small(self, member: Any, what: str) -> bytes:
        raise NotImplementedError

    def _opener(self, member: Any) -> Callable[[], AbstractContextManager[BinaryIO]]:
        raise NotImplementedError

    def _read_oci_layout(self) -> list[Image]:
        if self._has(OCI_LAYOUT):
            layout = load_json_object(
                self._read_small(self._member(OCI_LAYOUT, "archive", False), OCI_LAYOUT),
                "oci-layout",
            )
            version = layout.get("imageLayoutVersion")
            if not isinstance(version, str) or not version.startswith("1."):
                raise InvalidArchive(
                    f"invalid archive: unsupported OCI layout version {quoted(str(version))}"
                )
        data = self._read_small(self._member(INDEX_JSON, "archive", False), INDEX_JSON)
        index = parse_manifest_or_index(data)
        if not isinstance(index, Index):
            raise InvalidArchive("invalid archive: index.json is not an image index")
        if not index.manifests:
            raise InvalidArchive("invalid archive: index.json lists no images")
        images = []
        for number, descriptor in enumerate(index.manifests):
            manifest = self._resolve_manifest(descriptor, f"index.json entry {number}", 0)
            image = self._read_oci_image(manifest, _tags_from_annotations(descriptor.annotations))
            ref_name = (descriptor.annotations or {}).get(ANNOTATION_REF_NAME)
            image.ref_names = [ref_name] if ref_name else []
            images.append(image)
        return images

    def _read_blob(self, descriptor: Descriptor, what: str) -> bytes:
        member = self._member(blob_path(descriptor.digest), what)
        if member.size != descriptor.size:
            raise InvalidArchive(
                f"invalid archive: {what} {descriptor.digest} is {member.size} bytes, "
                f"its descriptor says {descriptor.size}"
            )
        data = self._read_small(member, f"{what} {descriptor.digest}")
        actual = Digest.of_bytes(data, descriptor.digest.algorithm)
        if actual != descriptor.digest:
            raise InvalidArchive(
                f"invalid archive: {what} {descriptor.digest} does not match its content ({actual})"
            )
        return data

    def _resolve_manifest(self, descriptor: Descriptor, what: str, depth: int) -> Manifest:
        if depth > MAX_INDEX_DEPTH:
            raise InvalidArchive(f"invalid archive: {what}: image indexes nested too deeply")
        if descriptor.media_type not in mt.MANIFESTS | mt.INDEXES:
            raise InvalidArchive(
                f"invalid archive: {what}: unsupported media type {quoted(descriptor.media_type)}"
            )
        parsed = parse_manifest_or_index(
            self._read_blob(descriptor, "manifest"), descriptor.media_type
        )
        if isinstance(parsed, Manifest):
            return parsed
        os_name, arch = self._platform
        for child in parsed.manifests:
            if (
                child.platform is not None
                and child.platform.os == os_name
                and child.platform.architecture == arch
                and child.media_type in mt.MANIFESTS | mt.INDEXES
            ):
                return self._resolve_manifest(child, what, depth + 1)
        raise InvalidArchive(
            f"invalid archive: {what}: index {descriptor.digest} has no image for {os_name}/{arch}"
        )

    def _read_oci_image(self, manifest: Manifest, tags: list[str]) -> Image:
        if manifest.config.media_type not in mt.CONFIGS:
            raise InvalidArchive(
                f"invalid archive: manifest config has unsupported media type "
                f"{quoted(manifest.config.media_type)}: not a container image"
            )
        config = self._read_blob(manifest.config, "config")
        parsed = parse_image_config(config)
        if len(manifest.layers) != len(parsed.diff_ids):
            raise InvalidArchive(
                "invalid manifest, layers length mismatch: "
                f"expected {len(manifest.layers)}, got {len(parsed.diff_ids)}"
            )
        layers = []
        for descriptor, diff_id in zip(manifest.layers, parsed.diff_ids, strict=True):
            if descriptor.media_type not in mt.LAYERS:
                raise InvalidArchive(
                    f"invalid archive: layer {descriptor.digest} has unsupported media type "
                    f"{quoted(descriptor.media_type)}"
                )
            member = self._member(blob_path(descriptor.digest), "manifest layer")
            if member.size != descriptor.size:
                raise InvalidArchive(
                    f"invalid archive: layer {descriptor.digest} is {member.size} bytes, "
                    f"its descriptor says {descriptor.size}"
                )
            opener = self._opener(member)
            layers.append(
                file_layer(diff_id, descriptor.media_type, member.size, descriptor.digest, opener)
            )
        return Image(config, layers, [reference.parse(tag) for tag in tags])
