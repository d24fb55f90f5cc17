"""The docker-archive place: ``save`` writes it, ``load`` reads it.

Writing produces Docker 25+'s layout: an OCI image layout (``oci-layout``,
``index.json``, ``blobs/sha256/...`` with uncompressed layers named by diffID)
plus the legacy ``manifest.json`` and ``repositories``, byte-identical for the
same input.

Reading accepts that layout, the pre-25 one (``<id>/layer.tar``, ``<id>.json``,
symlinks for repeated layers), skopeo's (``<hex>.tar``), and plain OCI image
layout archives (``index.json`` only, as ``skopeo copy ... oci-archive:`` writes),
whole-archive compressed or not, from a file or a stream. Configs and OCI
manifests are verified against their digests and sizes; layers are handed out
as raw member bytes with the digests to verify while streaming them (see
:class:`ArchiveLayerEntry`). The store gets plain data and never sees the tar.
"""

from __future__ import annotations

import json
import platform as host_platform
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from dockyard import reference
from dockyard.datarecord import dataclass, field
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive, InvalidDigest, InvalidReference
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import (
    MAX_JSON_DOCUMENT,
    Descriptor,
    Index,
    Manifest,
    load_json_object,
    parse_image_config,
    parse_manifest_or_index,
)
from dockyard.places.archive_source import ArchiveFile, open_source, sniff_compression
from dockyard.places.tar_index import (
    MemberReader,
    TarMember,
    index_tar,
    pread_exact,
    resolve,
)
from dockyard.places.tar_writer import END_OF_ARCHIVE, copy_exact, header, padding

MANIFEST_JSON = "manifest.json"
REPOSITORIES = "repositories"
INDEX_JSON = "index.json"
OCI_LAYOUT = "oci-layout"
OCI_LAYOUT_CONTENT = b'{"imageLayoutVersion": "1.0.0"}'
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
MAX_INDEX_DEPTH = 4

# Layers in manifest.json archives carry no media type: it is sniffed. Docker's loader
# also accepts bzip2 and xz layers; these pseudo types name them for the layer codec.
LAYER_BZIP2 = "application/vnd.oci.image.layer.v1.tar+bzip2"
LAYER_XZ = "application/vnd.oci.image.layer.v1.tar+xz"
_SNIFFED_LAYER_TYPES = {
    None: mt.OCI_LAYER,
    "gzip": mt.OCI_LAYER_GZIP,
    "zstd": mt.OCI_LAYER_ZSTD,
    "bzip2": LAYER_BZIP2,
    "xz": LAYER_XZ,
}


# ---------------------------------------------------------------------------
# writing (docker save)


@dataclass
class ArchiveLayer:
    """One layer to save: ``open()`` yields the uncompressed tar, exactly ``tar_size`` bytes."""

    diff_id: Digest
    tar_size: int
    open: Callable[[], AbstractContextManager[BinaryIO]]


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
    """JSON as Go's encoding/json writes it: compact, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode()


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
                {"mediaType": mt.OCI_LAYER, "digest": str(layer.diff_id), "size": layer.tar_size}
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


def plan_archive(
    images: Sequence[ArchiveImage], repositories_order: Sequence[str] | None = None
) -> list[PlannedMember | str]:
    """The archive's members in order: directory names (str) and blobs/files (PlannedMember)."""
    blobs: dict[str, PlannedMember] = {}
    index_entries: list[dict[str, Any]] = []
    manifest_items: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for image in _plan_images(images):
        image_id = Digest.of_bytes(image.config)
        _add_blob(blobs, PlannedMember(blob_path(image_id), len(image.config), data=image.config))
        for layer in image.layers:
            if layer.tar_size < 0:
                raise ValueError(f"layer {layer.diff_id}: negative size")
            _add_blob(blobs, PlannedMember(blob_path(layer.diff_id), layer.tar_size, layer=layer))
        manifest = _manifest_bytes(image)
        manifest_digest = Digest.of_bytes(manifest)
        _add_blob(blobs, PlannedMember(blob_path(manifest_digest), len(manifest), data=manifest))
        descriptor: dict[str, Any] = {
            "mediaType": mt.OCI_MANIFEST,
            "digest": str(manifest_digest),
            "size": len(manifest),
        }
        for ref in image.refs:
            entry = dict(descriptor)
            entry["annotations"] = {ANNOTATION_IMAGE_NAME: str(ref), ANNOTATION_REF_NAME: ref.tag}
            if image.platform:
                entry["platform"] = image.platform
            index_entries.append(entry)
            if image.layers:
                repositories.setdefault(ref.familiar_name, {})[ref.tag] = image.layers[
                    -1
                ].diff_id.hex
        if not image.refs:
            entry = dict(descriptor)
            if image.platform:
                entry["platform"] = image.platform
            index_entries.append(entry)
        manifest_items.append(
            {
                "Config": blob_path(image_id),
                "RepoTags": [ref.familiar() for ref in image.refs] or None,
                "Layers": [blob_path(layer.diff_id) for layer in image.layers],
            }
        )

    files: dict[str, bytes] = {
        INDEX_JSON: go_json(
            {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": index_entries}
        ),
        MANIFEST_JSON: go_json(manifest_items) + b"\n",
        OCI_LAYOUT: OCI_LAYOUT_CONTENT,
    }
    if repositories:
        order = list(repositories_order or ()) + sorted(repositories)
        ordered = {
            name: dict(sorted(repositories[name].items()))
            for name in dict.fromkeys(order)
            if name in repositories
        }
        files[REPOSITORIES] = go_json(ordered) + b"\n"

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


def archive_size(
    images: Sequence[ArchiveImage], repositories_order: Sequence[str] | None = None
) -> int:
    """The exact byte count ``write_docker_archive`` will write (a Content-Length)."""
    total = len(END_OF_ARCHIVE)
    for entry in plan_archive(images, repositories_order):
        if isinstance(entry, str):
            total += len(header(entry, directory=True))
        else:
            total += len(header(entry.path, entry.size)) + entry.size + len(padding(entry.size))
    return total


def write_docker_archive(
    out: BinaryIO,
    images: Sequence[ArchiveImage],
    repositories_order: Sequence[str] | None = None,
) -> None:
    """Write ``images`` to ``out`` as a Docker 25+ archive.

    ``repositories_order`` optionally fixes the order of repository names in the
    legacy ``repositories`` file (default: sorted, as Docker writes it). Each blob is
    written once, however many images share it. Layer bytes are not hashed here: the
    caller vouches that each layer's bytes match its diffID and size (a shorter layer
    raises DockyardError).
    """
    for entry in plan_archive(images, repositories_order):
        if isinstance(entry, str):
            out.write(header(entry, directory=True))
            continue
        out.write(header(entry.path, entry.size))
        if entry.data is not None:
            out.write(entry.data)
        else:
            assert entry.layer is not None
            with entry.layer.open() as stream:
                copy_exact(stream, out, entry.size, f"layer {entry.layer.diff_id}")
        out.write(padding(entry.size))
    out.write(END_OF_ARCHIVE)
    out.flush()


# ---------------------------------------------------------------------------
# reading (docker load)


@dataclass
class ArchiveLayerEntry:
    """One layer of a loaded image.

    ``open()`` yields the member's raw bytes (``size`` of them), compressed as
    ``media_type`` says. ``digest`` is the blob digest when the archive names the
    blob by digest (OCI layouts, Docker 25+); ``diff_id`` comes from the config.
    Neither is checked here: verify both while streaming the layer into the store.
    """

    diff_id: Digest | None
    media_type: str
    open: Callable[[], AbstractContextManager[BinaryIO]]
    size: int
    digest: Digest | None


@dataclass
class LoadedImageEntry:
    config: bytes
    repo_tags: list[str]  # familiar "name:tag"
    layers: list[ArchiveLayerEntry]

    @property
    def id(self) -> Digest:
        return Digest.of_bytes(self.config)


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


def _quote(text: str) -> str:
    return json.dumps(text)


def _field(obj: dict[str, Any], name: str) -> Any:
    """A field looked up as Go's encoding/json does: exact name first, then any case."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return value
    return None


def _digest_named(path: str) -> Digest | None:
    """The digest a member path claims: ``blobs/<alg>/<hex>`` or ``<hex>.json``."""
    parts = path.split("/")
    try:
        if len(parts) == 3 and parts[0] == "blobs":
            return Digest.parse(f"{parts[1]}:{parts[2]}")
        if len(parts) == 1 and parts[0].endswith(".json"):
            return Digest.parse(f"sha256:{parts[0][:-5]}")
    except InvalidDigest:
        return None
    return None


def _tag_from_repo_tag(text: Any) -> str:
    if not isinstance(text, str):
        raise InvalidArchive("invalid archive: manifest.json: RepoTags must be strings")
    try:
        ref = reference.parse(text)
    except InvalidReference as error:
        raise InvalidArchive(f"invalid archive: invalid tag {_quote(text)}: {error}") from None
    if ref.tag is None or ref.digest is not None:
        raise InvalidArchive(f"invalid archive: invalid tag {_quote(text)}")
    return ref.familiar()


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
            f"invalid archive: invalid image name {_quote(name)}: {error}"
        ) from None
    if ref.digest is not None and ref.tag is None:
        return []
    return [reference.Reference(ref.domain, ref.path, ref.tag or reference.DEFAULT_TAG).familiar()]


class DockerArchiveReader:
    """Reads the images of a docker-archive or OCI archive; a context manager.

    ``source`` is a path or a binary stream (stdin). An uncompressed archive file is
    read in place; anything else is decompressed or spooled once into a temporary
    file under ``tmpdir``, removed by ``close()`` (it is unlinked from the start).
    Layer openers are valid until ``close()``.
    """

    layout: str  # "docker" (manifest.json, any version) or "oci" (index.json only)
    images: list[LoadedImageEntry]

    def __init__(
        self,
        source: Path | str | BinaryIO,
        tmpdir: Path | str,
        platform: tuple[str, str] | None = None,
    ) -> None:
        self._platform = platform or default_platform()
        self._file: ArchiveFile = open_source(source, Path(tmpdir))
        try:
            self._members = index_tar(self._file.fd, self._file.base, self._file.size)
            self.layout, images = self._read_layout()
            self.images = _merge_by_id(images)
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> DockerArchiveReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    @property
    def compression(self) -> str | None:
        """Compression of the whole archive as given ('gzip', 'bzip2', 'xz', 'zstd' or None)."""
        return self._file.compression

    # -- members ---------------------------------------------------------------

    def _member(self, path: Any, what: str, follow_links: bool = True) -> TarMember:
        if not isinstance(path, str) or not path:
            raise InvalidArchive(f"invalid archive: {what}: path must be a non-empty string")
        parts = path.split("/")
        if path.startswith("/") or ".." in parts:
            raise InvalidArchive(
                f"invalid archive: {what} refers to {path!r}, which is outside the archive"
            )
        name = "/".join(part for part in parts if part not in ("", "."))
        member = resolve(self._members, name, follow_links)
        if member is None:
            raise InvalidArchive(
                f"invalid archive: {what} refers to {path!r}, which is not in the archive"
            )
        return member

    def _read_small(self, member: TarMember, what: str) -> bytes:
        if member.size > MAX_JSON_DOCUMENT:
            raise InvalidArchive(f"invalid archive: {what} is too large ({member.size} bytes)")
        return pread_exact(self._file.fd, member.size, member.offset)

    def _opener(self, member: TarMember) -> Callable[[], AbstractContextManager[BinaryIO]]:
        archive = self._file

        @contextmanager
        def open_member() -> Iterator[BinaryIO]:
            if archive.fd < 0:
                raise InvalidArchive("invalid archive: the archive has been closed")
            reader = MemberReader(archive, member.offset, member.size)
            try:
                yield reader  # type: ignore[misc]
            finally:
                reader.close()

        return open_member

    def _sniff(self, member: TarMember) -> str:
        head = pread_exact(self._file.fd, min(member.size, 6), member.offset)
        return _SNIFFED_LAYER_TYPES[sniff_compression(head)]

    # -- layouts ---------------------------------------------------------------

    def _read_layout(self) -> tuple[str, list[LoadedImageEntry]]:
        if MANIFEST_JSON in self._members:
            return "docker", self._read_docker_manifest()
        if INDEX_JSON in self._members:
            return "oci", self._read_oci_layout()
        if not self._members:
            raise InvalidArchive("invalid archive: the archive is empty")
        if REPOSITORIES in self._members:
            raise InvalidArchive(
                "invalid archive: legacy v1 archive (repositories and <id>/json, no "
                "manifest.json) is not supported"
            )
        hint = ""
        if any(name in self._members for name in ("bin", "etc", "usr", "lib")):
            hint = " (this looks like a filesystem tar: use import)"
        raise InvalidArchive(
            f"invalid archive: no manifest.json, index.json or repositories found{hint}"
        )

    def _read_docker_manifest(self) -> list[LoadedImageEntry]:
        data = self._read_small(self._member(MANIFEST_JSON, "archive", False), MANIFEST_JSON)
        try:
            items = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidArchive(
                f"invalid archive: manifest.json is not valid JSON: {error}"
            ) from None
        if not isinstance(items, list):
            raise InvalidArchive("invalid archive: manifest.json must be a JSON array")
        if not items:
            raise InvalidArchive("invalid archive: manifest.json lists no images")
        return [self._read_docker_item(i, item) for i, item in enumerate(items)]

    def _read_docker_item(self, number: int, item: Any) -> LoadedImageEntry:
        what = f"manifest.json entry {number}"
        if not isinstance(item, dict):
            raise InvalidArchive(f"invalid archive: {what} must be an object")
        config_path = _field(item, "Config")
        layer_paths = _field(item, "Layers")
        repo_tags = _field(item, "RepoTags")
        if not isinstance(layer_paths, list):
            raise InvalidArchive(f"invalid archive: {what}: Layers must be a list")
        if repo_tags is not None and not isinstance(repo_tags, list):
            raise InvalidArchive(f"invalid archive: {what}: RepoTags must be a list")

        config = self._read_small(self._member(config_path, what), f"config {config_path}")
        claimed = _digest_named(config_path)
        if claimed is not None and Digest.of_bytes(config, claimed.algorithm) != claimed:
            raise InvalidArchive(
                f"invalid archive: config {config_path} does not match its digest "
                f"(content is {Digest.of_bytes(config, claimed.algorithm)})"
            )
        parsed = parse_image_config(config)
        if len(layer_paths) != len(parsed.diff_ids):
            raise InvalidArchive(
                "invalid manifest, layers length mismatch: "
                f"expected {len(layer_paths)}, got {len(parsed.diff_ids)}"
            )
        layers = []
        for path, diff_id in zip(layer_paths, parsed.diff_ids, strict=True):
            member = self._member(path, what)
            named = (
                _digest_named(path) if isinstance(path, str) and path.startswith("blobs/") else None
            )
            layers.append(
                ArchiveLayerEntry(
                    diff_id, self._sniff(member), self._opener(member), member.size, named
                )
            )
        tags = [_tag_from_repo_tag(tag) for tag in repo_tags or []]
        return LoadedImageEntry(config, tags, layers)

    def _read_oci_layout(self) -> list[LoadedImageEntry]:
        if OCI_LAYOUT in self._members:
            layout = load_json_object(
                self._read_small(self._member(OCI_LAYOUT, "archive", False), OCI_LAYOUT),
                "oci-layout",
            )
            version = layout.get("imageLayoutVersion")
            if not isinstance(version, str) or not version.startswith("1."):
                raise InvalidArchive(
                    f"invalid archive: unsupported OCI layout version {_quote(str(version))}"
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
            images.append(
                self._read_oci_image(manifest, _tags_from_annotations(descriptor.annotations))
            )
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
                f"invalid archive: {what}: unsupported media type {_quote(descriptor.media_type)}"
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

    def _read_oci_image(self, manifest: Manifest, tags: list[str]) -> LoadedImageEntry:
        if manifest.config.media_type not in mt.CONFIGS:
            raise InvalidArchive(
                f"invalid archive: manifest config has unsupported media type "
                f"{_quote(manifest.config.media_type)}: not a container image"
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
                    f"{_quote(descriptor.media_type)}"
                )
            member = self._member(blob_path(descriptor.digest), "manifest layer")
            if member.size != descriptor.size:
                raise InvalidArchive(
                    f"invalid archive: layer {descriptor.digest} is {member.size} bytes, "
                    f"its descriptor says {descriptor.size}"
                )
            layers.append(
                ArchiveLayerEntry(
                    diff_id,
                    descriptor.media_type,
                    self._opener(member),
                    member.size,
                    descriptor.digest,
                )
            )
        return LoadedImageEntry(config, tags, layers)


def _merge_by_id(images: list[LoadedImageEntry]) -> list[LoadedImageEntry]:
    """One entry per image ID (Docker 25 lists an image once per tag in index.json)."""
    merged: dict[Digest, LoadedImageEntry] = {}
    for image in images:
        existing = merged.get(image.id)
        if existing is None:
            merged[image.id] = LoadedImageEntry(image.config, list(image.repo_tags), image.layers)
            continue
        for tag in image.repo_tags:
            if tag not in existing.repo_tags:
                existing.repo_tags.append(tag)
    return list(merged.values())


def open_archive(
    source: Path | str | BinaryIO,
    tmpdir: Path | str,
    platform: tuple[str, str] | None = None,
) -> DockerArchiveReader:
    """Open and index an archive; use the result as a context manager."""
    return DockerArchiveReader(source, tmpdir, platform)
