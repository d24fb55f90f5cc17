"""The docker-archive place: ``save`` writes it, ``load`` reads it.

Writing produces Docker 25+'s layout: an OCI image layout (``oci-layout``,
``index.json``, ``blobs/sha256/...`` with uncompressed layers named by diffID, see
oci_layout.py) plus the legacy ``manifest.json`` and ``repositories``,
byte-identical for the same input.

Reading accepts that layout, the pre-25 one (``<id>/layer.tar``, ``<id>.json``,
symlinks for repeated layers), skopeo's (``<hex>.tar``), and plain OCI image
layout archives (``index.json`` only, as ``skopeo copy ... oci-archive:`` writes),
whole-archive compressed or not, from a file or a stream. Layers are handed out
as raw member bytes with the digests to verify while streaming them (see
places/base.py's ``file_layer``). The store gets plain data and never sees the tar.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from dockyard import reference
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive, InvalidDigest, InvalidReference
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import MAX_JSON_DOCUMENT, parse_image_config
from dockyard.places.archive_source import ArchiveFile, open_source, sniff_compression
from dockyard.places.base import Image, file_layer
from dockyard.places.layout_format import (
    INDEX_JSON,
    OCI_LAYOUT,
    OCI_LAYOUT_CONTENT,
    ArchiveImage,
    ArchiveLayer,
    LayoutReading,
    PlannedMember,
    blob_path,
    default_platform,
    go_json,
    layout_members,
    plan_layout,
    quoted,
)
from dockyard.places.layout_io import FileSource, LayoutWriter, select
from dockyard.places.tar_index import (
    MemberReader,
    TarMember,
    index_tar,
    pread_exact,
    resolve,
)
from dockyard.places.tar_writer import END_OF_ARCHIVE, copy_exact, header, padding

__all__ = ["ArchiveImage", "ArchiveLayer", "go_json", "open_archive", "write_docker_archive"]

MANIFEST_JSON = "manifest.json"
REPOSITORIES = "repositories"

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

# ---------------------------------------------------------------------------
# writing (docker save)


def plan_archive(
    images: Sequence[ArchiveImage], repositories_order: Sequence[str] | None = None
) -> list[PlannedMember | str]:
    """The archive's members in order: directory names (str) and blobs/files (PlannedMember)."""
    layout = plan_layout(images)
    manifest_items: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for image in layout.images:
        for ref in image.refs:
            if image.layers:
                top = image.layers[-1].diff_id.hex
                repositories.setdefault(ref.familiar_name, {})[ref.tag] = top  # type: ignore[index]
        manifest_items.append(
            {
                "Config": blob_path(Digest.of_bytes(image.config)),
                "RepoTags": [ref.familiar() for ref in image.refs] or None,
                "Layers": [blob_path(layer.diff_id) for layer in image.layers],
            }
        )
    files: dict[str, bytes] = {
        INDEX_JSON: layout.index_json,
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
    return layout_members(layout.blobs, files)


def archive_size(
    images: Sequence[ArchiveImage], repositories_order: Sequence[str] | None = None
) -> int:
    """The exact byte count ``write_docker_archive`` will write (a Content-Length)."""
    return members_size(plan_archive(images, repositories_order))


def members_size(members: list[PlannedMember | str]) -> int:
    total = len(END_OF_ARCHIVE)
    for entry in members:
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
    write_members(out, plan_archive(images, repositories_order))


def write_members(out: BinaryIO, members: list[PlannedMember | str]) -> None:
    for entry in members:
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
        raise InvalidArchive(f"invalid archive: invalid tag {quoted(text)}: {error}") from None
    if ref.tag is None or ref.digest is not None:
        raise InvalidArchive(f"invalid archive: invalid tag {quoted(text)}")
    return ref.familiar()


class DockerArchiveReader(LayoutReading):
    """Reads the images of a docker-archive or OCI archive; a context manager.

    ``source`` is a path or a binary stream (stdin). An uncompressed archive file is
    read in place; anything else is decompressed or spooled once into a temporary
    file under ``tmpdir``, removed by ``close()`` (it is unlinked from the start).
    Layer openers are valid until ``close()``.
    """

    layout: str  # "docker" (manifest.json, any version) or "oci" (index.json only)
    images: list[Image]

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

    def _has(self, name: str) -> bool:
        return name in self._members

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

    def _read_layout(self) -> tuple[str, list[Image]]:
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

    def _read_docker_manifest(self) -> list[Image]:
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

    def _read_docker_item(self, number: int, item: Any) -> Image:
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
            opener = self._opener(member)
            layers.append(file_layer(diff_id, self._sniff(member), member.size, named, opener))
        tags = [reference.parse(_tag_from_repo_tag(tag)) for tag in repo_tags or []]
        return Image(config, layers, tags)


def _merge_by_id(images: list[Image]) -> list[Image]:
    """One entry per image ID (Docker 25 lists an image once per tag in index.json)."""
    merged: dict[Digest, Image] = {}
    for image in images:
        existing = merged.setdefault(image.id, Image(image.config, image.layers))
        existing.names.extend(name for name in image.names if name not in existing.names)
        existing.ref_names.extend(image.ref_names)
    return list(merged.values())


def open_archive(
    source: Path | str | BinaryIO,
    tmpdir: Path | str,
    platform: tuple[str, str] | None = None,
) -> DockerArchiveReader:
    """Open and index an archive; use the result as a context manager."""
    return DockerArchiveReader(source, tmpdir, platform)


class DockerArchiveSource(FileSource):
    """The images of a docker-archive (any version) or OCI archive, for load and copy."""

    def __init__(
        self, source: Path | str | BinaryIO, tmpdir: Path | str, wanted: str | None = None
    ) -> None:
        self.reader = open_archive(source, tmpdir)
        try:
            self._images = select(self.reader.images, wanted)
        except BaseException:
            self.reader.close()
            raise

    def close_files(self) -> None:
        self.reader.close()


class DockerArchiveDestination(LayoutWriter):
    """A Docker 25 archive written to ``out`` at commit (save, copy)."""

    plain = True

    def __init__(self, out: BinaryIO, names: list[reference.Reference] | None = None) -> None:
        super().__init__(names)
        self.out = out

    async def commit(self) -> None:
        await asyncio.get_running_loop().run_in_executor(
            None, write_docker_archive, self.out, self.images
        )
