"""The OCI image layout format (``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``):
planned for writing, read from the members of an archive or a directory.

Docker 25's docker-archive is an OCI layout plus two legacy files (docker_archive.py),
an OCI archive is the layout as a tar (oci_archive.py) and ``oci:DIR`` is the layout
on disk (oci_layout.py). Reading verifies every manifest and config against its digest
and size; layers are handed out as raw blob bytes with the digests to verify while
streaming them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from dockyard import gojson, reference
from dockyard.client.platforms import choose, host_platform
from dockyard.datarecord import dataclass
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive, InvalidReference, NotFound
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import (
    MAX_JSON_DOCUMENT,
    Descriptor,
    Index,
    Manifest,
    Platform,
    load_json_object,
    parse_image_config,
    parse_manifest_or_index,
)
from dockyard.places.base import Image, Opener, file_layer

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
    open: Opener
    blob: Descriptor | None = None  # set: ``open()`` yields this blob, written as is (OCI)

    @property
    def descriptor(self) -> Descriptor:
        return self.blob or Descriptor(mt.OCI_LAYER, self.diff_id, self.tar_size)

    @property
    def size(self) -> int:
        """The bytes ``open()`` yields."""
        return self.descriptor.size


@dataclass
class ArchiveImage:
    """One image to save: its exact config bytes, familiar ``name:tag`` strings and layers."""

    config: bytes
    repo_tags: list[str]
    layers: list[ArchiveLayer]


# a layout's regular files by path: their bytes, or a layer opened when it is written
LayoutFiles = dict[str, "bytes | ArchiveLayer"]


def go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it (compact, HTML characters escaped), as bytes."""
    return gojson.go_json(value).encode()


def blob_path(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def invalid(message: str, kind: str = "archive") -> InvalidArchive:
    """The one-line error of a broken or hostile archive (or layout directory)."""
    return InvalidArchive(f"invalid {kind}: {message}")


def quoted(text: str) -> str:
    return json.dumps(text)


# ---------------------------------------------------------------------------
# writing


@dataclass
class PlannedImage:
    """An image as written: its tags (defaulted, each once) and its platform."""

    config: bytes
    layers: list[ArchiveLayer]
    refs: list[reference.Reference]
    platform: dict[str, Any] | None


def plan_images(images: Sequence[ArchiveImage]) -> list[PlannedImage]:
    """Check each image against its config and merge images saved twice (by image ID)."""
    planned: dict[Digest, PlannedImage] = {}
    for image in images:
        config = parse_image_config(image.config)
        diff_ids = [layer.diff_id for layer in image.layers]
        if diff_ids != config.diff_ids:
            raise ValueError(
                f"image {config.id}: layers {[str(d) for d in diff_ids]} do not match "
                f"the config's rootfs.diff_ids"
            )
        entry = planned.setdefault(
            config.id, PlannedImage(image.config, image.layers, [], _platform_of(config.data))
        )
        for tag in image.repo_tags:
            ref = reference.parse(tag)
            if ref.digest is None and ref.with_default_tag() not in entry.refs:
                entry.refs.append(ref.with_default_tag())  # as Docker: a digest is no tag
    return list(planned.values())


def _platform_of(config: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(config.get("architecture"), str) or not isinstance(config.get("os"), str):
        return None
    platform = {"architecture": config["architecture"], "os": config["os"]}
    for key in ("os.version", "os.features", "variant"):
        if config.get(key):
            platform[key] = config[key]
    return platform


def docker_annotations(ref: reference.Reference) -> dict[str, str]:
    """Docker 25's index.json names: the full reference and the tag."""
    return {ANNOTATION_IMAGE_NAME: str(ref), ANNOTATION_REF_NAME: ref.tag or ""}


def oci_annotations(ref: reference.Reference) -> dict[str, str]:
    """An OCI layout's name for an image: its familiar reference as ref.name."""
    return {ANNOTATION_REF_NAME: ref.familiar()}


def layout_files(
    images: list[PlannedImage],
    annotate: Callable[[reference.Reference], dict[str, str]] = docker_annotations,
    ref_name: str | None = None,
) -> LayoutFiles:
    """The files of a layout holding ``images``, each blob once; ``annotate`` names an
    index entry after a reference, ``ref_name`` names every image instead."""
    files: LayoutFiles = {OCI_LAYOUT: OCI_LAYOUT_CONTENT}
    entries: list[dict[str, Any]] = []
    for image in images:
        config = _add_blob(files, Descriptor(mt.OCI_CONFIG, *_hashed(image.config)), image.config)
        layers = [_add_blob(files, layer.descriptor, layer) for layer in image.layers]
        manifest = go_json(
            {
                "schemaVersion": 2,
                "mediaType": mt.OCI_MANIFEST,
                "config": config.to_json() | _platform(image),
                "layers": [layer.to_json() for layer in layers],
            }
        )
        descriptor = _add_blob(files, Descriptor(mt.OCI_MANIFEST, *_hashed(manifest)), manifest)
        names = [annotate(ref) for ref in image.refs]
        if ref_name is not None:
            names = [{ANNOTATION_REF_NAME: ref_name}]
        for naming in names or [None]:
            entry = Descriptor(mt.OCI_MANIFEST, descriptor.digest, descriptor.size, naming)
            entries.append(entry.to_json() | _platform(image))
    files[INDEX_JSON] = index_json(entries)
    return files


def index_json(entries: list[dict[str, Any]]) -> bytes:
    return go_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": entries})


def file_size(content: bytes | ArchiveLayer) -> int:
    return len(content) if isinstance(content, bytes) else content.size


def _hashed(data: bytes) -> tuple[Digest, int]:
    return Digest.of_bytes(data), len(data)


def _platform(image: PlannedImage) -> dict[str, Any]:
    return {"platform": image.platform} if image.platform else {}


def _add_blob(files: LayoutFiles, blob: Descriptor, content: bytes | ArchiveLayer) -> Descriptor:
    """Add a blob once (the same digest twice must come with the same size)."""
    if blob.size < 0:
        raise ValueError(f"{blob.digest}: negative size")
    if file_size(files.setdefault(blob_path(blob.digest), content)) != blob.size:
        raise ValueError(f"{blob_path(blob.digest)} is given with two sizes")
    return blob


# ---------------------------------------------------------------------------
# reading


@dataclass(frozen=True)
class MemberFile:
    """A regular file of an archive or a layout directory: its size, what opens it."""

    size: int
    open: Opener


class Members(Protocol):
    """The files of an archive or a layout directory, as the reader asks for them."""

    kind: str  # "archive" or "layout", for error messages

    def __contains__(self, name: object) -> bool: ...

    def find(self, path: Any, what: str, follow_links: bool = True) -> MemberFile: ...


class LayoutReader:
    """Reads images from ``members``; an index is resolved to ``platform`` (os, arch),
    the host's by default."""

    def __init__(self, members: Members, platform: tuple[str, str] | None = None) -> None:
        self.members = members
        self.platform = Platform(platform[1], platform[0]) if platform else host_platform()

    def read_small(self, file: MemberFile, what: str) -> bytes:
        if file.size > MAX_JSON_DOCUMENT:
            raise invalid(f"{what} is too large ({file.size} bytes)", self.members.kind)
        with file.open() as stream:
            return stream.read(file.size)

    def read_file(self, name: str) -> bytes:
        """A top-level file of the layout (manifest.json, index.json): never a link."""
        return self.read_small(self.members.find(name, "archive", False), name)

    def oci_images(self) -> list[Image]:
        if OCI_LAYOUT in self.members:
            version = load_json_object(self.read_file(OCI_LAYOUT), OCI_LAYOUT).get(
                "imageLayoutVersion"
            )
            if not isinstance(version, str) or not version.startswith("1."):
                raise invalid(f"unsupported OCI layout version {quoted(str(version))}")
        index = parse_manifest_or_index(self.read_file(INDEX_JSON))
        if not isinstance(index, Index):
            raise invalid("index.json is not an image index")
        if not index.manifests:
            raise invalid("index.json lists no images")
        images = []
        for number, descriptor in enumerate(index.manifests):
            manifest = self._manifest(descriptor, f"index.json entry {number}", 0)
            annotations = descriptor.annotations or {}
            image = self._image(manifest, _tags_from_annotations(annotations))
            image.ref_names = (
                [annotations[ANNOTATION_REF_NAME]] if annotations.get(ANNOTATION_REF_NAME) else []
            )
            images.append(image)
        return images

    def _blob(self, descriptor: Descriptor, what: str) -> MemberFile:
        file = self.members.find(blob_path(descriptor.digest), what)
        if file.size != descriptor.size:
            raise invalid(
                f"{what} {descriptor.digest} is {file.size} bytes, "
                f"its descriptor says {descriptor.size}"
            )
        return file

    def _read_blob(self, descriptor: Descriptor, what: str) -> bytes:
        data = self.read_small(self._blob(descriptor, what), f"{what} {descriptor.digest}")
        actual = Digest.of_bytes(data, descriptor.digest.algorithm)
        if actual != descriptor.digest:
            raise invalid(f"{what} {descriptor.digest} does not match its content ({actual})")
        return data

    def _manifest(self, descriptor: Descriptor, what: str, depth: int) -> Manifest:
        if depth > MAX_INDEX_DEPTH:
            raise invalid(f"{what}: image indexes nested too deeply")
        if descriptor.media_type not in mt.MANIFESTS | mt.INDEXES:
            raise invalid(f"{what}: unsupported media type {quoted(descriptor.media_type)}")
        parsed = parse_manifest_or_index(
            self._read_blob(descriptor, "manifest"), descriptor.media_type
        )
        if isinstance(parsed, Manifest):
            return parsed
        try:
            return self._manifest(choose(parsed, self.platform), what, depth + 1)
        except NotFound:
            raise invalid(
                f"{what}: index {descriptor.digest} has no image for "
                f"{self.platform.os}/{self.platform.architecture}"
            ) from None

    def _image(self, manifest: Manifest, tags: list[str]) -> Image:
        if manifest.config.media_type not in mt.CONFIGS:
            raise invalid(
                f"manifest config has unsupported media type "
                f"{quoted(manifest.config.media_type)}: not a container image"
            )
        config = self._read_blob(manifest.config, "config")
        diff_ids = layer_diff_ids(config, len(manifest.layers))
        layers = []
        for descriptor, diff_id in zip(manifest.layers, diff_ids, strict=True):
            if descriptor.media_type not in mt.LAYERS:
                raise invalid(
                    f"layer {descriptor.digest} has unsupported media type "
                    f"{quoted(descriptor.media_type)}"
                )
            file = self._blob(descriptor, "layer")
            layers.append(
                file_layer(diff_id, descriptor.media_type, file.size, descriptor.digest, file.open)
            )
        return Image(config, layers, [reference.parse(tag) for tag in tags])


def layer_diff_ids(config: bytes, layer_count: int) -> list[Digest]:
    """The config's diff IDs, one for each of the ``layer_count`` layers listed."""
    diff_ids = parse_image_config(config).diff_ids
    if layer_count != len(diff_ids):
        raise InvalidArchive(
            f"invalid manifest, layers length mismatch: expected {layer_count}, got {len(diff_ids)}"
        )
    return diff_ids


def _tags_from_annotations(annotations: dict[str, str]) -> list[str]:
    """Docker's ``io.containerd.image.name``, else a ref.name that is a full reference
    (a bare tag such as ``latest`` names no repository: that image loads untagged)."""
    name = annotations.get(ANNOTATION_IMAGE_NAME)
    if not name:
        name = annotations.get(ANNOTATION_REF_NAME) or ""
        if ":" not in name and "/" not in name:
            return []
    try:
        ref = reference.parse(name)
    except InvalidReference as error:
        raise invalid(f"invalid image name {quoted(name)}: {error}") from None
    if ref.digest is not None and ref.tag is None:
        return []
    return [reference.Reference(ref.domain, ref.path, ref.tag or reference.DEFAULT_TAG).familiar()]
