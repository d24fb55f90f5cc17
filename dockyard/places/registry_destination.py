"""A registry repository as the destination of a copy (push, `image copy ... docker://`).

Layers the registry already has are skipped (HEAD), layers known to be in another
repository of the same registry are mounted, the others are uploaded five at a
time. A layer that is not in the wanted compression (an uncompressed layer of the
store) is compressed once, while it is uploaded (gzip with ISA-L, or zstd); a
``keeper`` (the store's) keeps that compressed blob, so the next push sends the same
bytes without compressing. The manifest is Docker's v2 schema 2 (OCI when a layer
is zstd), formatted as Docker formats it, so the same image pushed by Docker and by
dockyard has the same digest; an image whose layers all went as they were keeps its
source manifest (same digest as the source).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from dockyard.datarecord import dataclass
from dockyard.digest import Digest, HashingWriter
from dockyard.errors import InvalidArgument
from dockyard.oci import mediatypes as mt
from dockyard.places.base import Event, Image, Layer, Opener, Report, is_compressed
from dockyard.places.registry import RegistryRepository
from dockyard.reference import DEFAULT_TAG
from dockyard.streams import ByteCounter, ObservedReader, ObservedWriter

PARALLEL_UPLOADS = 5
COMPRESSIONS = ("gzip", "zstd")
KIND_MEDIA_TYPE = {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD}


def check_compression(compression: str | None) -> None:
    if compression is not None and compression not in COMPRESSIONS:
        raise InvalidArgument(f"unsupported compression {compression!r}: use gzip or zstd")


def compression_of(media_type: str) -> str | None:
    if not is_compressed(media_type):
        return None
    return "zstd" if media_type.endswith("zstd") else "gzip"


@dataclass
class Pushed:
    """One layer as the registry has it."""

    digest: Digest
    size: int
    kind: str  # gzip or zstd
    as_is: bool  # the source's blob, unchanged


@dataclass
class PushedImage:
    digest: Digest
    size: int  # of the manifest
    tag: str


class Keeper(Protocol):
    """Where a layer compressed for a push is kept (the store)."""

    def writer(self) -> Any: ...

    def remember(self, diff_id: Digest, digest: Digest, media_type: str, size: int) -> None: ...


class RegistryDestination:
    def __init__(
        self,
        repository: RegistryRepository,
        tag: str | None = None,
        compression: str | None = None,
        mount_sources: Callable[[Digest], list[str]] = lambda _digest: [],
        keeper: Keeper | None = None,
    ) -> None:
        check_compression(compression)
        self.repository = repository
        self.tag = tag
        self.compression = compression
        self.mount_sources = mount_sources
        self.keeper = keeper
        self._semaphore = asyncio.Semaphore(PARALLEL_UPLOADS)
        self._layers: dict[Digest, asyncio.Future] = {}
        self._taken: dict[int, Pushed] = {}
        self.blobs: list[Digest] = []  # the layer blobs of the last image put

    def _as_is(self, layer: Layer) -> bool:
        kind = compression_of(layer.media_type)
        return (
            kind is not None
            and layer.digest is not None
            and (self.compression is None or kind == self.compression)
        )

    async def present(self, image: Image, report: Report) -> list[bool]:
        for layer in reversed(image.layers):
            report(Event(layer.item, "Preparing"))
        for layer in list(reversed(image.layers))[PARALLEL_UPLOADS:]:
            report(Event(layer.item, "Waiting"))
        return [False] * len(image.layers)

    async def put_layer(self, image: Image, position: int, opener: Opener, report: Report) -> Any:
        layer = image.layers[position]
        future = self._layers.get(layer.diff_id)
        if future is None:
            future = self._layers[layer.diff_id] = asyncio.ensure_future(
                self._push(layer, opener, report)
            )
        return await asyncio.shield(future)

    async def _push(self, layer: Layer, opener: Opener, report: Report) -> Pushed:
        from dockyard.places.registry_upload import upload_blob

        repository = self.repository
        async with self._semaphore:
            if not self._as_is(layer):
                pushed = await self._compress_and_upload(layer, opener, report)
                report(Event(layer.item, "Pushed"))
                return pushed
            assert layer.digest is not None
            pushed = Pushed(layer.digest, layer.size, compression_of(layer.media_type), True)  # type: ignore[arg-type]
            if await repository.blob_size(layer.digest, repository.push_scope) is not None:
                report(Event(layer.item, "Layer already exists"))
                return pushed
            for source in self.mount_sources(layer.digest):
                if source != repository.path and await repository.mount_blob(layer.digest, source):
                    report(Event(layer.item, f"Mounted from {source}"))
                    return pushed

            def progress(done: int) -> None:
                report(Event(layer.item, "Pushing", done, layer.size))

            await upload_blob(repository, opener, layer.digest, layer.size, progress)
            report(Event(layer.item, "Pushed"))
            return pushed

    async def _compress_and_upload(self, layer: Layer, opener: Opener, report: Report) -> Pushed:
        from dockyard.places.registry_upload import upload_stream

        kind = self.compression or "gzip"
        total = layer.tar_size if layer.tar_size >= 0 else layer.size
        with contextlib.ExitStack() as stack:
            # The keeper's writer is unhashed: ``compressed`` hashes those bytes already.
            kept = stack.enter_context(self.keeper.writer()) if self.keeper is not None else None
            read = ByteCounter(_pushing_bar(layer, report, total), step=1 << 20)
            chunks, compressed, done = _compress_in_thread(opener, kind, read, kept)
            digest = await upload_stream(self.repository, chunks, compressed.digest)
            await done
            if kept is not None:
                await asyncio.get_running_loop().run_in_executor(None, kept.commit, digest)
        if self.keeper is not None:
            self.keeper.remember(layer.diff_id, digest, KIND_MEDIA_TYPE[kind], compressed.count)
        return Pushed(digest, compressed.count, kind, False)

    async def commit_layer(self, image: Image, position: int, staged: Any, report: Report) -> None:
        self._taken[position] = staged

    async def discard_layer(self, staged: Any) -> None:
        pass

    async def put_image(self, image: Image, report: Report) -> PushedImage:
        from dockyard.places.registry_upload import upload_bytes

        repository = self.repository
        pushed = [self._taken.pop(position) for position in range(len(image.layers))]
        self.blobs = list(dict.fromkeys(p.digest for p in pushed))
        config_digest = image.id
        if await repository.blob_size(config_digest, repository.push_scope) is None:
            await upload_bytes(repository, image.config, config_digest)
        if image.manifest is not None and all(p.as_is for p in pushed):
            manifest, media_type = image.manifest, image.manifest_type
        else:
            manifest, media_type = docker_manifest(image.config, pushed)
        tag = self.tag or (image.names[0].tag if image.names else None) or DEFAULT_TAG
        digest = await repository.put_manifest(tag, manifest, media_type)
        report(Event(None, f"{tag}: digest: {digest} size: {len(manifest)}"))
        return PushedImage(digest, len(manifest), tag)

    async def commit(self) -> None:
        pass

    def close(self) -> None:
        pass


def docker_manifest(config: bytes, layers: list[Pushed]) -> tuple[bytes, str]:
    """Docker's v2 schema 2 manifest (OCI when a layer is zstd), formatted as Go's
    json.MarshalIndent(v, "", "   ") as Docker writes it."""
    oci = any(layer.kind == "zstd" for layer in layers)
    layer_type = {
        "gzip": mt.OCI_LAYER_GZIP if oci else mt.DOCKER_LAYER_GZIP,
        "zstd": mt.OCI_LAYER_ZSTD,
    }
    media_type = mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": mt.OCI_CONFIG if oci else mt.DOCKER_CONFIG,
            "size": len(config),
            "digest": str(Digest.of_bytes(config)),
        },
        "layers": [
            {"mediaType": layer_type[layer.kind], "size": layer.size, "digest": str(layer.digest)}
            for layer in layers
        ],
    }
    return json.dumps(document, indent=3).encode(), media_type


def _pushing_bar(layer: Layer, report: Report, total: int) -> Callable[[int], None]:
    """'Pushing' progress reported from a worker thread."""
    loop = asyncio.get_running_loop()

    def at(done: int) -> None:
        loop.call_soon_threadsafe(report, Event(layer.item, "Pushing", done, total))

    return at


def _compress_in_thread(opener: Opener, kind: str, read: ByteCounter, kept: Any):  # type: ignore[no-untyped-def]
    """Decompress the blob (when compressed) and compress it as ``kind`` in a worker
    thread; ``read`` sees the bytes read, ``kept`` (when given) gets the compressed ones.
    Returns the compressed chunks as an async iterator, the writer that hashed and
    counted them, and the worker's completion."""
    from dockyard.layers.compression import compress_gzip, compress_zstd, open_decompressed

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize=8)

    def send(item: Any) -> None:
        asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    class ToQueue:
        def write(self, data: Any) -> int:
            send(bytes(data))
            return len(data)

    compressed = HashingWriter(ObservedWriter(ToQueue(), *([kept.write] if kept else [])))  # type: ignore[arg-type]

    def work() -> None:
        try:
            with opener() as raw:
                plain = open_decompressed(ObservedReader(raw, read))  # type: ignore[arg-type]
                (compress_zstd if kind == "zstd" else compress_gzip)(plain, compressed)  # type: ignore[arg-type]
                read.flush()
            send(None)
        except BaseException as error:  # noqa: BLE001 - handed to the uploader
            send(error)

    async def chunks():  # type: ignore[no-untyped-def]
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    worker = loop.run_in_executor(None, work)

    async def done() -> None:
        try:
            await worker
        finally:
            while not worker.done():  # a worker blocked on a full queue: let it finish
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    await asyncio.sleep(0.01)

    return chunks(), compressed, done()
