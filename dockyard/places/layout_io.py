"""What the file places share (docker-archive, OCI archive, OCI layout directory): their
images as the copy sees them, and the writing side that gathers layers until the
archive or layout is written at commit.

A layer whose bytes the store vouches for is read when the archive is written; any
other is spooled into a temporary file first, hashed on the way (its digest checked,
its size learnt: a tar header needs it before the bytes), decompressed when the
destination wants the plain tar (docker-archive names layers by diff ID).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, BinaryIO

from dockyard import reference
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive
from dockyard.layers.compression import open_decompressed
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import Descriptor
from dockyard.places.base import Image, Layer, Opener, Report, blocking, is_compressed
from dockyard.places.layout_format import ArchiveImage, ArchiveLayer
from dockyard.streams import ObservedReader

CHUNK = 1 << 20
# an OCI manifest names layers by OCI media types (Docker's name the same bytes)
_OCI_NAMES = {mt.DOCKER_LAYER: mt.OCI_LAYER, mt.DOCKER_LAYER_GZIP: mt.OCI_LAYER_GZIP}


def select(images: list[Image], wanted: str | None) -> list[Image]:
    """The images of an archive or layout; ``wanted`` picks one by a tag it carries or
    its OCI ref.name (skopeo's ``FILE:REF``)."""
    if wanted is None:
        return images
    chosen = [image for image in images if _carries(image, wanted)]
    if not chosen:
        raise InvalidArchive(f"no image named {wanted!r} in the archive")
    return chosen


def _carries(image: Image, wanted: str) -> bool:
    if wanted in image.ref_names:
        return True
    try:
        return reference.parse(wanted).with_default_tag().familiar() in image.repo_tags
    except Exception:
        return False


class FileSource:
    """A source whose layers are files or archive members, open until ``close``."""

    _images: list[Image]
    synchronous = True

    async def images(self) -> list[Image]:
        return self._images

    async def fetch(self, layers: list[Layer], report: Report) -> list[Opener]:
        return [layer.open for layer in layers]  # type: ignore[misc]

    def interrupt(self) -> None:
        pass

    async def close(self, succeeded: bool) -> None:
        self.close_files()

    def close_files(self) -> None:
        pass


class LayoutWriter:
    """Gathers images for an archive or layout that ``write`` makes at commit. ``plain``:
    layers are written as uncompressed tars named by diff ID (docker-archive); otherwise
    as the blobs they are (OCI)."""

    plain = True
    synchronous = True

    def __init__(self, names: list[reference.Reference] | None = None) -> None:
        self.names = names  # given: every image is recorded under these instead
        self.images: list[ArchiveImage] = []
        self._spool = tempfile.TemporaryDirectory(prefix="dockyard-copy-")
        self._taken: dict[int, ArchiveLayer] = {}

    def write(self) -> None:
        raise NotImplementedError

    async def commit(self) -> None:
        await blocking(self.write)

    def close(self) -> None:
        self._spool.cleanup()

    async def present(self, image: Image, report: Report) -> list[bool]:
        return [False] * len(image.layers)

    async def put_layer(self, image: Image, position: int, opener: Opener, report: Report) -> Any:
        layer = image.layers[position]
        if layer.verified:  # the store's: read when the archive is written
            if not self.plain or not is_compressed(layer.media_type):
                return self._layer(layer, layer.size, opener, layer.digest)
            if layer.tar_size >= 0:
                return ArchiveLayer(layer.diff_id, layer.tar_size, _decompressing(opener))
        return await blocking(partial(self._spooled, layer, opener))

    def _layer(self, layer: Layer, size: int, opener: Opener, digest: Digest | None) -> Any:
        if self.plain:
            return ArchiveLayer(layer.diff_id, size, opener)
        assert digest is not None
        blob = Descriptor(_OCI_NAMES.get(layer.media_type, layer.media_type), digest, size)
        return ArchiveLayer(layer.diff_id, layer.tar_size, opener, blob)

    def _spooled(self, layer: Layer, opener: Opener) -> ArchiveLayer:
        raw_hash, written_hash = hashlib.sha256(), hashlib.sha256()
        spool = tempfile.NamedTemporaryFile(dir=self._spool.name, delete=False)  # noqa: SIM115
        with spool, opener() as raw:
            stream: BinaryIO = ObservedReader(raw, raw_hash.update)  # type: ignore[assignment]
            if self.plain and is_compressed(layer.media_type):
                stream = open_decompressed(stream)
            while data := stream.read(CHUNK):
                spool.write(data)
                written_hash.update(data)
            size = spool.tell()
        raw_digest = Digest("sha256", raw_hash.hexdigest())
        if layer.digest is not None and raw_digest != layer.digest:
            raise InvalidArchive(f"layer {layer.digest}: content does not match its digest")
        if self.plain and Digest("sha256", written_hash.hexdigest()) != layer.diff_id:
            raise InvalidArchive(f"layer content does not match its diff ID {layer.diff_id}")
        return self._layer(layer, size, partial(open, spool.name, "rb"), raw_digest)

    async def commit_layer(self, image: Image, position: int, staged: Any, report: Report) -> None:
        self._taken[position] = staged

    async def discard_layer(self, staged: Any) -> None:
        pass

    async def put_image(self, image: Image, report: Report) -> Digest:
        layers = [self._taken[position] for position in range(len(image.layers))]
        self._taken = {}
        names = self.names if self.names is not None else image.names
        self.images.append(ArchiveImage(image.config, [n.familiar() for n in names], layers))
        return image.id


def _decompressing(opener: Opener) -> Opener:
    @contextmanager
    def open_plain() -> Iterator[BinaryIO]:
        with opener() as raw:
            yield open_decompressed(raw)

    return open_plain
