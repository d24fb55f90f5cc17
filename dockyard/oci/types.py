"""Strict parsing of descriptors, manifests, indexes and image configs.

Everything here reads bytes from outside: each field is type-checked, unknown
required shapes are refused with InvalidArchive naming what is wrong.
"""

from __future__ import annotations

import json

from dockyard.datarecord import dataclass, field
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive, InvalidDigest
from dockyard.oci import mediatypes as mt

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

MAX_JSON_DOCUMENT = 4 << 20  # manifests and configs larger than 4 MiB are refused


def load_json_object(data: bytes, what: str) -> dict[str, Any]:
    if len(data) > MAX_JSON_DOCUMENT:
        raise InvalidArchive(f"{what} is too large ({len(data)} bytes)")
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidArchive(f"{what} is not valid JSON: {error}") from None
    except RecursionError:
        raise InvalidArchive(f"{what} is not valid JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise InvalidArchive(f"{what} must be a JSON object")
    return value


def _expect(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArchive(f"{what}: field {key!r} is missing or has the wrong type")
    return value


def _optional(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArchive(f"{what}: field {key!r} has the wrong type")
    return value


@dataclass(frozen=True)
class Platform:
    architecture: str
    os: str
    variant: str | None = None

    @classmethod
    def from_json(cls, obj: Any, what: str) -> Platform:
        if not isinstance(obj, dict):
            raise InvalidArchive(f"{what}: platform must be an object")
        return cls(
            _expect(obj, "architecture", str, what),
            _expect(obj, "os", str, what),
            _optional(obj, "variant", str, what),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            data["variant"] = self.variant
        return data


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: dict[str, str] | None = None
    platform: Platform | None = None
    artifact_type: str | None = None
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, obj: Any, what: str = "descriptor") -> Descriptor:
        if not isinstance(obj, dict):
            raise InvalidArchive(f"{what} must be an object")
        media_type = _expect(obj, "mediaType", str, what)
        try:
            digest = Digest.parse(_expect(obj, "digest", str, what))
        except InvalidDigest as error:
            raise InvalidArchive(f"{what}: {error}") from None
        size = _expect(obj, "size", int, what)
        if size < 0:
            raise InvalidArchive(f"{what}: negative size")
        annotations = _optional(obj, "annotations", dict, what)
        if annotations is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
        ):
            raise InvalidArchive(f"{what}: annotations must map strings to strings")
        platform = obj.get("platform")
        urls = _optional(obj, "urls", list, what) or []
        return cls(
            media_type,
            digest,
            size,
            annotations,
            Platform.from_json(platform, what) if platform is not None else None,
            _optional(obj, "artifactType", str, what),
            tuple(str(u) for u in urls),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.artifact_type:
            data["artifactType"] = self.artifact_type
        if self.urls:
            data["urls"] = list(self.urls)
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        if self.platform:
            data["platform"] = self.platform.to_json()
        return data


@dataclass(frozen=True)
class Manifest:
    """An OCI image manifest or a Docker v2 schema 2 manifest."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None

    def descriptors(self) -> list[Descriptor]:
        return [self.config, *self.layers]


@dataclass(frozen=True)
class Index:
    """An OCI image index or a Docker manifest list."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None


def parse_manifest_or_index(data: bytes, declared_type: str | None = None) -> Manifest | Index:
    """Parse a manifest or index; the media type comes from the body, else the declared one."""
    obj = load_json_object(data, "manifest")
    schema = obj.get("schemaVersion")
    media_type = obj.get("mediaType") or declared_type
    if not isinstance(media_type, str | None):
        raise InvalidArchive("manifest: mediaType must be a string")
    if isinstance(schema, bool):
        raise InvalidArchive("manifest: schemaVersion must be 2")
    if schema == 1 or media_type in mt.SCHEMA1:
        raise InvalidArchive(
            "manifest schema 1 is not supported: "
            "it is deprecated and has no content-addressable config"
        )
    if schema != 2:
        raise InvalidArchive("manifest: schemaVersion must be 2")
    if declared_type and obj.get("mediaType") and obj["mediaType"] != declared_type:
        raise InvalidArchive(
            f"manifest: mediaType {obj['mediaType']!r} does not match {declared_type!r}"
        )
    if media_type is None:
        media_type = mt.OCI_INDEX if "manifests" in obj else mt.OCI_MANIFEST
    if not isinstance(media_type, str):
        raise InvalidArchive("manifest: mediaType must be a string")
    subject = obj.get("subject")
    subject_desc = Descriptor.from_json(subject, "subject") if subject is not None else None
    annotations = _optional(obj, "annotations", dict, "manifest")
    artifact_type = _optional(obj, "artifactType", str, "manifest")
    if media_type in mt.INDEXES:
        entries = _expect(obj, "manifests", list, "index")
        return Index(
            media_type,
            tuple(Descriptor.from_json(d, f"index entry {i}") for i, d in enumerate(entries)),
            subject_desc,
            artifact_type,
            annotations,
        )
    if media_type in mt.MANIFESTS:
        config = Descriptor.from_json(obj.get("config"), "manifest config")
        layers = _expect(obj, "layers", list, "manifest")
        return Manifest(
            media_type,
            config,
            tuple(Descriptor.from_json(d, f"manifest layer {i}") for i, d in enumerate(layers)),
            subject_desc,
            artifact_type,
            annotations,
        )
    raise InvalidArchive(f"manifest: unsupported media type {media_type!r}")


@dataclass
class ImageConfig:
    """An image config (OCI or Docker). ``raw`` keeps the exact bytes: the image ID hashes them."""

    raw: bytes
    data: dict[str, Any] = field(repr=False)
    diff_ids: list[Digest]

    @property
    def id(self) -> Digest:
        return Digest.of_bytes(self.raw)

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.data.get("history") or []

    @property
    def created(self) -> str:
        return self.data.get("created") or ""

    @property
    def config(self) -> dict[str, Any]:
        return self.data.get("config") or {}


def parse_image_config(raw: bytes) -> ImageConfig:
    obj = load_json_object(raw, "image config")
    rootfs = obj.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        raise InvalidArchive("image config: rootfs.type must be 'layers'")
    diff_ids_raw = rootfs.get("diff_ids")
    if not isinstance(diff_ids_raw, list):
        raise InvalidArchive("image config: rootfs.diff_ids must be a list")
    diff_ids = []
    for item in diff_ids_raw:
        if not isinstance(item, str):
            raise InvalidArchive("image config: diff_ids must be strings")
        try:
            diff_ids.append(Digest.parse(item))
        except InvalidDigest as error:
            raise InvalidArchive(f"image config: {error}") from None
    for key in ("architecture", "os", "created", "author", "comment"):
        _optional(obj, key, str, "image config")
    for key in ("config", "container_config"):
        _optional(obj, key, dict, "image config")
    history = _optional(obj, "history", list, "image config") or []
    for entry in history:
        if not isinstance(entry, dict):
            raise InvalidArchive("image config: history entries must be objects")
    return ImageConfig(raw, obj, diff_ids)


def chain_ids(diff_ids: list[Digest]) -> list[Digest]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    result: list[Digest] = []
    for diff_id in diff_ids:
        if not result:
            result.append(diff_id)
        else:
            result.append(Digest.of_bytes(f"{result[-1]} {diff_id}".encode()))
    return result
