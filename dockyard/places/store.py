"""The local store as a place: the source of save and push, the destination of load,
pull and import.

As a destination, every layer missing from the store is extracted at once, each into
its own staging directory as its bytes arrive (worker threads: extraction spends its
time in libarchive and the kernel, outside the GIL), and the staged layers are
recorded in layer order. What is kept besides the tree is the store's decision
(``Store.stage_layer_from_tar``): a tar-split record for an uncompressed layer, the
blob as received for a compressed one. A layer another process removes
meanwhile (rmi, image prune) raises NotFound, which the copy answers by copying the
image again.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any

from dockyard.datarecord import dataclass
from dockyard.digest import Digest
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import chain_ids
from dockyard.places.base import (
    Event,
    Image,
    Layer,
    Opener,
    Report,
    blocking,
    reporter_for_threads,
)
from dockyard.reference import Reference
from dockyard.store import LayerRecord, Store


def store_layer(store: Store, record: LayerRecord) -> Layer:
    @contextmanager
    def open_blob():  # type: ignore[no-untyped-def]
        with store.open_layer_blob(record) as raw:
            yield raw

    return Layer(
        record.diff_id,
        record.blob_media_type,
        store.layer_blob_size(record),
        record.blob,
        record.diff_id.short,
        record.tar_size,
        open=open_blob,
        verified=True,
    )


def store_image(store: Store, image_id: Digest, names: list[Reference]) -> Image:
    record = store.image(image_id)
    layers = [store_layer(store, layer) for layer in store.layer_chain(record.top_chain)]
    return Image(store.blobs.read(image_id), layers, names)


class StoreSource:
    """Images of the store, chosen by the caller (``select_for_save`` or one reference)."""

    synchronous = True

    def __init__(self, store: Store, images: list[Image]) -> None:
        self.store = store
        self._images = images

    async def images(self) -> list[Image]:
        return self._images

    async def fetch(self, layers: list[Layer], report: Report) -> list[Opener]:
        return [layer.open or self._opener(layer.digest) for layer in layers]  # type: ignore[arg-type]

    def _opener(self, digest: Digest) -> Opener:
        @contextmanager
        def open_blob():  # type: ignore[no-untyped-def]
            with self.store.blobs.open(digest) as raw:
                yield raw

        return open_blob

    def interrupt(self) -> None:
        pass

    async def close(self, succeeded: bool) -> None:
        pass


@dataclass
class StoredImage:
    """What the store destination did with one image."""

    image_id: Digest
    names: list[Reference]
    previous: dict[str, Digest | None]  # each name's image before, and
    existed: set[str]  # the references the image had already


class StoreDestination:
    """Layers into ``layers/`` (extracted) and ``blobs/`` (as received), then the
    image and its names. ``action`` names the extraction in progress reports
    ('Extracting' for pull, 'Loading layer' for load); ``done`` the status after a
    layer is recorded."""

    synchronous = True

    def __init__(
        self,
        store: Store,
        action: str = "Extracting",
        done: str | None = None,
        exists: str | None = None,
        names: list[Reference] | None = None,
    ) -> None:
        self.store = store
        self.names = names  # given: every image is recorded under these instead
        self.action = action
        self.done = done
        self.exists = exists  # the status of a layer present already (pull's)
        self._pool: Any = None  # under an event loop: the threads that extract
        store.hold_shared_lock()

    def _extractors(self) -> Any:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(
                max_workers=os.cpu_count() or 2, thread_name_prefix="dockyard-extract"
            )
        return self._pool

    async def present(self, image: Image, report: Report) -> list[bool]:
        if any(layer.diff_id is None for layer in image.layers):
            return [False] * len(image.layers)  # a rootfs tar: known once read
        chains = chain_ids([layer.diff_id for layer in image.layers])
        have = [self.store.layer(chain) is not None for chain in chains]
        # A layer counts only with everything below it: the first missing one and all
        # above it are copied (chain IDs: a present layer implies its parents).
        first_missing = have.index(False) if False in have else len(have)
        registered = self.store.db.execute(
            "SELECT 1 FROM images WHERE id = ?", (str(image.id),)
        ).fetchone()
        if self.exists and not (registered and first_missing == len(have)):
            for layer in image.layers[:first_missing]:
                report(Event(layer.item, self.exists))
        return [position < first_missing for position in range(len(have))]

    async def put_layer(self, image: Image, position: int, opener: Opener, report: Report) -> Any:
        layer = image.layers[position]
        if layer.size == 0:
            return None  # an empty input: Docker's empty layer (commit_layer)
        step = max(layer.size // 50, 1 << 20)
        shown = [0]
        report_here = reporter_for_threads(report)

        def progress(done: int) -> None:
            if done - shown[0] >= step or done >= layer.size:
                shown[0] = done
                report_here(Event(layer.item, self.action, done, layer.size))

        def stage():  # type: ignore[no-untyped-def]
            with opener() as stream:
                return self.store.stage_layer_from_tar(
                    stream,
                    media_type=layer.media_type,
                    expected_diff_id=layer.diff_id,
                    expected_blob=layer.digest,
                    progress=progress if layer.size > 0 else None,
                    blob_file=getattr(stream, "blob_file", None),
                )

        return await blocking(stage, self._extractors)

    async def commit_layer(self, image: Image, position: int, staged: Any, report: Report) -> None:
        layer = image.layers[position]
        parent = chain_ids([below.diff_id for below in image.layers[:position]])
        if staged is None:
            record = self.store.add_empty_layer()
        else:
            record = self.store.install_staged(staged, parent[-1] if parent else None)
        layer.diff_id = record.diff_id
        if self.done:
            report(Event(image.layers[position].item, self.done))

    async def discard_layer(self, staged: Any) -> None:
        if staged is not None:
            self.store.discard_staged(staged)

    async def abandon_layers(self, image: Image, positions: list[int]) -> None:
        """The copy of ``image`` failed after recording the layers at ``positions`` (bottom
        up, each missing before): those nothing else uses meanwhile are removed again. A
        copy in another process that needed one meets NotFound and copies it again."""
        chains = [str(chain) for chain in chain_ids([layer.diff_id for layer in image.layers])]
        below = chains[positions[0] - 1] if positions[0] > 0 else None
        with self.store.transaction() as connection:
            released = self.store.release_layers(connection, chains[positions[-1]], below)
        self.store.remove_layer_files(released)

    async def put_image(self, image: Image, report: Report) -> StoredImage:
        store = self.store
        image_id = image.id
        names = list(dict.fromkeys(self.names if self.names is not None else image.names))
        existed = {n for n, i, _k in store.all_refs() if i == str(image_id)}
        previous = {str(ref): store.lookup_ref(ref) for ref in names}
        # Tagged in the transaction that adds it: a concurrent `image prune` never
        # sees it dangling.
        tags = [ref for ref in names if ref.tag is not None]
        store.add_image(image.config, tag=tags[0] if tags else None)
        for ref in names:
            if not tags or ref != tags[0]:
                store.set_tag(ref, image_id)
        return StoredImage(image_id, names, previous, existed)

    async def commit(self) -> None:
        pass

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def pushable_layer(store: Store, record: LayerRecord, compression: str | None) -> Layer:
    """A layer as a push sends it: a compressed blob the store has in the wanted
    compression (the one it came in as, or one an earlier push made), else the stored
    blob, compressed on the way (places/registry_destination.py)."""
    stored = store_layer(store, record)
    if record.blob != record.diff_id and store.blobs.exists(record.blob):
        kind = "zstd" if record.blob_media_type.endswith("zstd") else "gzip"
        if compression is None or kind == compression:
            return stored
    kind = compression or "gzip"
    media_type = mt.OCI_LAYER_ZSTD if kind == "zstd" else mt.OCI_LAYER_GZIP
    row = store.db.execute(
        "SELECT blob, size FROM compressed_blobs WHERE diff_id = ? AND media_type = ?",
        (str(record.diff_id), media_type),
    ).fetchone()
    if row is not None and store.blobs.exists(Digest.parse(row[0])):
        digest = Digest.parse(row[0])
        return Layer(
            record.diff_id, media_type, row[1], digest, stored.item, stored.tar_size, verified=True
        )
    return stored


class CompressedKeeper:
    """Keeps the blob a push compressed, and remembers it for the next push."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def writer(self):  # type: ignore[no-untyped-def]
        return self.store.blobs.writer(hashed=False)  # the push hashes what it sends

    def remember(self, diff_id: Digest, digest: Digest, media_type: str, size: int) -> None:
        with self.store.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO compressed_blobs (diff_id, blob, media_type, size)"
                " VALUES (?, ?, ?, ?)",
                (str(diff_id), str(digest), media_type, size),
            )
