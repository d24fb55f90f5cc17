"""`push`: an image of the local store into a registry repository.

Layers the registry already has are skipped (HEAD), layers known to be in another
repository of the same registry are mounted, the others are uploaded five at a time.
A layer kept uncompressed is compressed once, while it is being uploaded (gzip with
ISA-L, or zstd); the compressed blob is kept in the store and remembered
(``compressed_blobs``) so the next push sends the same bytes without compressing.
The manifest is Docker's v2 schema 2 (OCI when a layer is zstd), formatted as Docker
formats it, so the same image pushed by Docker and by dockyard has the same digest.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dockyard import reference
from dockyard.client.daemonconfig import DaemonConfig, load_daemon_config
from dockyard.client.events import Events, NoEvents
from dockyard.digest import Digest
from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci import mediatypes as mt
from dockyard.reference import Reference
from dockyard.store import LayerRecord, Store

PARALLEL_UPLOADS = 5
COMPRESSIONS = ("gzip", "zstd")
_KEY_MEDIA_TYPE = {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD}


@dataclass
class PushResult:
    reference: Reference
    digest: Digest
    size: int


@dataclass
class _Known:
    digest: Digest
    size: int
    kind: str  # gzip or zstd


class _Counting:
    """A reader that reports how many bytes went through it."""

    def __init__(self, stream, report: Callable[[int], None]) -> None:  # type: ignore[no-untyped-def]
        self._stream = stream
        self._report = report
        self.count = 0
        self._last = 0

    def _seen(self, n: int) -> None:
        self.count += n
        if self.count - self._last >= 1 << 20 or n == 0:
            self._last = self.count
            self._report(self.count)

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        readinto = getattr(self._stream, "readinto", None)
        if readinto is None:
            data = self._stream.read(len(buffer))
            buffer[: len(data)] = data
            n = len(data)
        else:
            n = readinto(buffer) or 0
        self._seen(n)
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._seen(len(data))
        return data


class _Tee:
    """Writes compressed bytes to the store's blob writer and hands them to the upload."""

    def __init__(self, writer, send: Callable[[bytes], None]) -> None:  # type: ignore[no-untyped-def]
        self._writer = writer
        self._send = send

    def write(self, data) -> int:  # type: ignore[no-untyped-def]
        data = bytes(data)
        self._writer.write(data)
        self._send(data)
        return len(data)


def _docker_json(document: dict[str, Any]) -> bytes:
    """Go's json.MarshalIndent(v, "", "   "), as Docker writes manifests."""
    return json.dumps(document, indent=3).encode()


class Pusher:
    def __init__(
        self,
        store: Store,
        events: Events | None = None,
        config: DaemonConfig | None = None,
        compression: str | None = None,
        auth: dict | None = None,
    ) -> None:
        from dockyard.client import credentials
        from dockyard.client.session import FROM_CONFIG

        self.credentials = credentials.from_auth_config(auth) if auth else FROM_CONFIG
        if compression is not None and compression not in COMPRESSIONS:
            raise InvalidArgument(f"unsupported compression {compression!r}: use gzip or zstd")
        self.store = store
        self.events = events or NoEvents()
        self.config = config or load_daemon_config()
        self.compression = compression

    # ------------------------------------------------------------ entry points

    def push(self, name: str, all_tags: bool = False) -> list[PushResult]:
        ref = reference.parse(name)
        if ref.digest is not None:
            raise InvalidArgument("cannot push a digest reference")
        if all_tags and ref.tag:
            raise InvalidArgument("tag can't be used with --all-tags/-a")
        if all_tags:
            prefix = ref.name + ":"
            tags = sorted(
                (
                    (reference.parse(n), Digest.parse(i))
                    for n, i, kind in self.store.all_refs()
                    if kind == "tag" and n.startswith(prefix)
                ),
                key=lambda pair: pair[0].tag or "",
            )
            tags = [(r, i) for r, i in tags if r.name == ref.name]
            if not tags:
                raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
        else:
            if ref.tag is None:
                self.events.line(f"Using default tag: {reference.DEFAULT_TAG}")
                ref = ref.with_default_tag()
            image_id = self.store.lookup_ref(ref)
            if image_id is None:
                raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
            tags = [(ref, image_id)]
        self.store.hold_shared_lock()
        return asyncio.run(self._push(ref, tags))

    async def _push(self, ref: Reference, tags: list[tuple[Reference, Digest]]) -> list[PushResult]:
        from dockyard.client.session import RegistrySession, new_http_session, registry_host
        from dockyard.places.registry import RegistryRepository

        self.events.line(f"The push refers to repository [{ref.name}]")
        async with new_http_session() as http:
            session = RegistrySession(
                http, registry_host(ref.domain), self.config, credentials=self.credentials
            )
            repository = RegistryRepository(session, ref.path)
            results = []
            for tagged, image_id in tags:
                results.append(await self._push_one(repository, tagged, image_id))
            return results

    # ------------------------------------------------------------ one image

    async def _push_one(self, repository, ref: Reference, image_id: Digest) -> PushResult:  # type: ignore[no-untyped-def]
        from dockyard.client import pushcache
        from dockyard.places.registry_upload import upload_bytes

        image = self.store.image(image_id)
        layers = self.store.layer_chain(image.top_chain)
        wanted = self.compression or "gzip"
        known = {layer.diff_id: self._known_blob(layer) for layer in layers}
        kinds = {d: (k.kind if k else wanted) for d, k in known.items()}
        oci = "zstd" in kinds.values()
        for layer in reversed(layers):
            self.events.status(layer.diff_id.short, "Preparing")
        for layer in list(reversed(layers))[PARALLEL_UPLOADS:]:
            self.events.status(layer.diff_id.short, "Waiting")
        semaphore = asyncio.Semaphore(PARALLEL_UPLOADS)
        tasks: dict[Digest, asyncio.Task] = {}
        for layer in reversed(layers):
            if layer.diff_id not in tasks:
                tasks[layer.diff_id] = asyncio.create_task(
                    self._layer(
                        repository, layer, known[layer.diff_id], kinds[layer.diff_id], semaphore
                    )
                )
        try:
            await asyncio.gather(*tasks.values())
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        blobs = {diff_id: task.result() for diff_id, task in tasks.items()}
        config_bytes = self.store.blobs.read(image_id)
        if await repository.blob_size(image_id, repository.push_scope) is None:
            await upload_bytes(repository, config_bytes, image_id)
        layer_type = {
            "gzip": mt.OCI_LAYER_GZIP if oci else mt.DOCKER_LAYER_GZIP,
            "zstd": mt.OCI_LAYER_ZSTD,
        }
        manifest = _docker_json(
            {
                "schemaVersion": 2,
                "mediaType": mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST,
                "config": {
                    "mediaType": mt.OCI_CONFIG if oci else mt.DOCKER_CONFIG,
                    "size": len(config_bytes),
                    "digest": str(image_id),
                },
                "layers": [
                    {
                        "mediaType": layer_type[kinds[layer.diff_id]],
                        "size": blobs[layer.diff_id].size,
                        "digest": str(blobs[layer.diff_id].digest),
                    }
                    for layer in layers
                ],
            }
        )
        digest = await repository.put_manifest(
            ref.tag or reference.DEFAULT_TAG,
            manifest,
            mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST,
        )
        pushcache.remember(
            self.store.db,
            repository.session.host,
            repository.path,
            [str(b.digest) for b in blobs.values()] + [str(image_id)],
        )
        with self.store.transaction() as connection:
            self.store._set_ref(connection, Reference(ref.domain, ref.path, None, digest), image_id)
        self.events.line(f"{ref.tag}: digest: {digest} size: {len(manifest)}")
        return PushResult(ref, digest, len(manifest))

    def _known_blob(self, layer: LayerRecord) -> _Known | None:
        """A compressed form of the layer that is already in the store, if any."""
        if layer.blob != layer.diff_id and self.store.blobs.exists(layer.blob):
            kind = "zstd" if layer.blob_media_type.endswith("zstd") else "gzip"
            if self.compression is None or kind == self.compression:
                return _Known(layer.blob, self.store.blobs.size(layer.blob), kind)
        kind = self.compression or "gzip"
        row = self.store.db.execute(
            "SELECT blob, size FROM compressed_blobs WHERE diff_id = ? AND media_type = ?",
            (str(layer.diff_id), _KEY_MEDIA_TYPE[kind]),
        ).fetchone()
        if row is not None and self.store.blobs.exists(Digest.parse(row[0])):
            return _Known(Digest.parse(row[0]), row[1], kind)
        return None

    # ------------------------------------------------------------ layers

    async def _layer(
        self, repository, layer: LayerRecord, known: _Known | None, kind: str, semaphore
    ) -> _Known:  # type: ignore[no-untyped-def]
        from dockyard.client import pushcache
        from dockyard.places.registry_upload import upload_file

        short = layer.diff_id.short
        async with semaphore:
            if known is None:
                result = await self._compress_and_upload(repository, layer, kind)
                self.events.status(short, "Pushed")
                return result
            if await repository.blob_size(known.digest, repository.push_scope) is not None:
                self.events.status(short, "Layer already exists")
                return known
            host = repository.session.host
            for source in pushcache.repositories_with(self.store.db, host, str(known.digest)):
                if source != repository.path and await repository.mount_blob(known.digest, source):
                    self.events.status(short, f"Mounted from {source}")
                    return known

            def progress(done: int) -> None:
                self.events.progress(short, "Pushing", done, known.size)

            await upload_file(
                repository, self.store.blobs.path(known.digest), known.digest, known.size, progress
            )
            self.events.status(short, "Pushed")
            return known

    async def _compress_and_upload(self, repository, layer: LayerRecord, kind: str) -> _Known:  # type: ignore[no-untyped-def]
        from dockyard.layers.compression import compress_gzip, compress_zstd, open_decompressed
        from dockyard.places.registry_upload import upload_stream

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=8)
        short = layer.diff_id.short
        total = layer.tar_size

        def report(done: int) -> None:
            loop.call_soon_threadsafe(self.events.progress, short, "Pushing", done, total)

        def send(item) -> None:  # type: ignore[no-untyped-def]
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

        with self.store.blobs.writer() as writer:

            def produce() -> None:
                try:
                    with self.store.blobs.open(layer.blob) as raw:
                        source = raw if layer.blob == layer.diff_id else open_decompressed(raw)
                        counting = _Counting(source, report)
                        tee = _Tee(writer, send)
                        if kind == "zstd":
                            compress_zstd(counting, tee)  # type: ignore[arg-type]
                        else:
                            compress_gzip(counting, tee)  # type: ignore[arg-type]
                    send(None)
                except BaseException as error:  # noqa: BLE001 - handed to the uploader
                    send(error)

            async def chunks():  # type: ignore[no-untyped-def]
                while True:
                    item = await queue.get()
                    if item is None:
                        return
                    if isinstance(item, BaseException):
                        raise item
                    yield item

            producer = loop.run_in_executor(None, produce)
            try:
                digest = await upload_stream(repository, chunks(), writer.hashing.digest)
                await producer
                size = writer.size
                await loop.run_in_executor(None, writer.commit, digest)
            finally:
                while not producer.done():
                    try:
                        queue.get_nowait()
                    except asyncio.QueueEmpty:
                        await asyncio.sleep(0.01)
        with self.store.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO compressed_blobs (diff_id, blob, media_type, size)"
                " VALUES (?, ?, ?, ?)",
                (str(layer.diff_id), str(digest), _KEY_MEDIA_TYPE[kind], size),
            )
        return _Known(digest, size, kind)


def push(
    store: Store,
    name: str,
    *,
    events: Events | None = None,
    all_tags: bool = False,
    compression: str | None = None,
    config: DaemonConfig | None = None,
    auth: dict | None = None,
) -> list[PushResult]:
    """Push ``name`` from ``store``. ``auth``: an Engine API AuthConfig used instead of
    config.json's credentials."""
    return Pusher(store, events, config, compression, auth).push(name, all_tags)
