"""`pull`: a registry repository into the local store.

Layers are downloaded three at a time into partial files under the store's tmp
directory (kept by digest, so an interrupted pull resumes with a Range request) and
applied in order, each extraction following its download as the bytes arrive. Every
manifest, config and blob is checked against its digest; a failed pull leaves no new
layer, image or reference behind.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dockyard import reference
from dockyard.client.daemonconfig import DaemonConfig, load_daemon_config
from dockyard.client.errors import ManifestUnknown, RegistryError, Unauthorized
from dockyard.client.events import Events, NoEvents
from dockyard.client.growing import Cancelled, GrowingReader, GrowingState
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import (
    Descriptor,
    Index,
    Manifest,
    Platform,
    chain_ids,
    parse_image_config,
    parse_manifest_or_index,
)
from dockyard.reference import Reference
from dockyard.store import Store

PARALLEL_DOWNLOADS = 3


@dataclass
class PullResult:
    reference: Reference
    image_id: Digest
    manifest_digest: Digest
    up_to_date: bool


@dataclass
class _Layer:
    descriptor: Descriptor
    diff_id: Digest
    chain_id: Digest

    @property
    def short(self) -> str:
        return self.descriptor.digest.short


@dataclass
class _Download:
    descriptor: Descriptor
    path: Path
    state: GrowingState = field(default_factory=GrowingState)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    keep_file: bool = False  # the blob already in the store: never deleted
    fd: int = -1


class _Applier:
    """Applies layers in one worker thread with its own store connection (SQLite
    connections belong to the thread that opened them)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dockyard-apply")
        self._local = threading.local()

    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store.open(self.root)
        return store

    def apply(self, layer: _Layer, download: _Download, parent: Digest | None, progress) -> None:  # type: ignore[no-untyped-def]
        reader = GrowingReader(download.fd, download.state)
        try:
            self._store().add_layer_from_tar(
                reader,
                parent,
                media_type=layer.descriptor.media_type,
                expected_diff_id=layer.diff_id,
                expected_blob=layer.descriptor.digest,
                progress=progress,
            )
        finally:
            reader.close()

    def close(self) -> None:
        def finish() -> None:
            store = getattr(self._local, "store", None)
            if store is not None:
                store.close()

        self.pool.submit(finish).result()
        self.pool.shutdown()


class Puller:
    def __init__(
        self,
        store: Store,
        events: Events | None = None,
        config: DaemonConfig | None = None,
        platform: Platform | None = None,
        auth: dict | None = None,
    ) -> None:
        from dockyard.client import credentials
        from dockyard.client.platforms import host_platform
        from dockyard.client.session import FROM_CONFIG

        self.credentials = credentials.from_auth_config(auth) if auth else FROM_CONFIG
        self.store = store
        self.events = events or NoEvents()
        self.config = config or load_daemon_config()
        self.platform = platform or host_platform()

    # ------------------------------------------------------------ entry points

    def pull(self, name: str, all_tags: bool = False) -> list[PullResult]:
        ref = reference.parse(name)
        if all_tags and (ref.tag or ref.digest):
            from dockyard.errors import InvalidArgument

            raise InvalidArgument("tag can't be used with --all-tags/-a")
        if not all_tags and ref.tag is None and ref.digest is None:
            self.events.line(f"Using default tag: {reference.DEFAULT_TAG}")
            ref = ref.with_default_tag()
        self.store.hold_shared_lock()
        results = asyncio.run(self._pull(ref, all_tags))
        newer = any(not result.up_to_date for result in results)
        what = "Downloaded newer image" if newer else "Image is up to date"
        self.events.line(f"Status: {what} for {ref.familiar_name if all_tags else ref.familiar()}")
        return results

    async def _pull(self, ref: Reference, all_tags: bool) -> list[PullResult]:
        from dockyard.client.session import new_http_session

        async with new_http_session() as http:
            repositories = self._repositories(http, ref)
            if all_tags:
                tags, repository = await self._first(repositories, ref, lambda r: r.tags())
                results = []
                for tag in tags:
                    tagged = ref.with_tag(tag)
                    fetched = await self._manifest(repository, tagged)
                    results.append(await self._pull_one(repository, tagged, fetched))
                return results
            fetched, repository = await self._first(
                repositories, ref, lambda r: self._manifest(r, ref)
            )
            return [await self._pull_one(repository, ref, fetched)]

    def _repositories(self, http, ref: Reference) -> list:  # type: ignore[no-untyped-def]
        """Where to pull from: the mirrors first for docker.io, then the registry."""
        from urllib.parse import urlsplit

        from dockyard.client.session import RegistrySession, registry_host
        from dockyard.places.registry import RegistryRepository

        repositories = []
        if ref.domain == reference.DEFAULT_DOMAIN:
            for mirror in self.config.mirrors:
                host = urlsplit(mirror).netloc
                session = RegistrySession(http, host, self.config, endpoint=mirror)
                repositories.append(RegistryRepository(session, ref.path))
        session = RegistrySession(
            http, registry_host(ref.domain), self.config, credentials=self.credentials
        )
        repositories.append(RegistryRepository(session, ref.path))
        return repositories

    async def _first(self, repositories: list, ref: Reference, action):  # type: ignore[no-untyped-def]
        """Run ``action`` on each endpoint in turn until one succeeds."""
        for position, repository in enumerate(repositories):
            try:
                return await action(repository), repository
            except (RegistryError, InvalidArchive):
                if position == len(repositories) - 1:
                    raise
        raise AssertionError("no endpoint")

    async def _manifest(self, repository, ref: Reference):  # type: ignore[no-untyped-def]
        from dockyard.places.registry import manifest_not_found

        wanted = str(ref.digest) if ref.digest else (ref.tag or reference.DEFAULT_TAG)
        try:
            return await repository.get_manifest(wanted)
        except ManifestUnknown as error:
            raise manifest_not_found(ref.familiar(), error) from None
        except Unauthorized as error:
            raise Unauthorized(
                f"pull access denied for {ref.familiar_name}, repository does not exist or"
                f" may require 'docker login': {error}",
                error.status,
                error.codes,
            ) from None

    # ------------------------------------------------------------ one image

    async def _pull_one(self, repository, ref: Reference, fetched) -> PullResult:  # type: ignore[no-untyped-def]
        from dockyard.client.platforms import choose

        label = ref.tag if ref.tag and not ref.digest else ref.familiar()
        self.events.line(f"{label}: Pulling from {ref.path}")
        manifest = parse_manifest_or_index(fetched.body, fetched.media_type or None)
        if isinstance(manifest, Index):
            entry = choose(manifest, self.platform)
            child = await repository.get_manifest(str(entry.digest))
            manifest = parse_manifest_or_index(child.body, child.media_type or entry.media_type)
            if not isinstance(manifest, Manifest):
                raise InvalidArchive("an index entry of an index is not supported")
        assert isinstance(manifest, Manifest)
        if manifest.config.media_type not in mt.CONFIGS:
            raise InvalidArchive(
                f"unsupported config media type {manifest.config.media_type!r}:"
                " not a container image"
            )
        config_bytes = await repository.get_blob_bytes(manifest.config.digest, manifest.config.size)
        config = parse_image_config(config_bytes)
        if len(config.diff_ids) != len(manifest.layers):
            raise InvalidArchive(
                f"image config lists {len(config.diff_ids)} layers, the manifest"
                f" {len(manifest.layers)}"
            )
        for descriptor in manifest.layers:
            if descriptor.media_type not in mt.LAYERS:
                raise InvalidArchive(f"unsupported layer media type {descriptor.media_type!r}")
        layers = [
            _Layer(d, diff, chain)
            for d, diff, chain in zip(
                manifest.layers, config.diff_ids, chain_ids(config.diff_ids), strict=True
            )
        ]
        present = self.store.db.execute(
            "SELECT 1 FROM images WHERE id = ?", (str(config.id),)
        ).fetchone()
        if not present or (layers and self.store.layer(layers[-1].chain_id) is None):
            await self._layers(repository, layers)
        image_id = self.store.add_image(config_bytes)
        from dockyard.client import pushcache

        pushcache.remember(
            self.store.db,
            repository.session.host,
            repository.path,
            [str(layer.descriptor.digest) for layer in layers] + [str(manifest.config.digest)],
        )
        up_to_date = self._record(ref, image_id, fetched.digest)
        self.events.line(f"Digest: {fetched.digest}")
        return PullResult(ref, image_id, fetched.digest, up_to_date)

    def _record(self, ref: Reference, image_id: Digest, manifest_digest: Digest) -> bool:
        """Tag and record the repository digest; True when nothing changed."""
        digest_ref = Reference(ref.domain, ref.path, None, manifest_digest)
        with self.store.transaction() as connection:
            row = connection.execute(
                "SELECT image_id FROM refs WHERE name = ?", (str(ref if ref.tag else digest_ref),)
            ).fetchone()
            up_to_date = row is not None and row[0] == str(image_id)
            if ref.tag:
                self.store._set_ref(connection, Reference(ref.domain, ref.path, ref.tag), image_id)
            self.store._set_ref(connection, digest_ref, image_id)
        return up_to_date

    # ------------------------------------------------------------ layers

    async def _layers(self, repository, layers: list[_Layer]) -> None:  # type: ignore[no-untyped-def]
        from dockyard.client.download import partial_path

        first_missing = len(layers)
        for position, layer in enumerate(layers):
            if self.store.layer(layer.chain_id) is None:
                first_missing = position
                break
        for layer in layers[:first_missing]:
            self.events.status(layer.short, "Already exists")
        missing = layers[first_missing:]
        if not missing:
            return
        downloads: dict[Digest, _Download] = {}
        try:
            for layer in missing:
                digest = layer.descriptor.digest
                if digest in downloads:
                    continue
                partial = partial_path(self.store.tmp, digest)
                download = downloads[digest] = await self._prepare(layer.descriptor, partial)
                self.events.status(layer.short, "Pulling fs layer")
                if download.keep_file:
                    self.events.status(layer.short, "Download complete")
        except BaseException:
            for download in downloads.values():
                os.close(download.fd)
            raise
        semaphore = asyncio.Semaphore(PARALLEL_DOWNLOADS)
        waiting = [d for d in downloads.values() if not d.keep_file][PARALLEL_DOWNLOADS:]
        for download in waiting:
            self.events.status(download.descriptor.digest.short, "Waiting")
        for download in downloads.values():
            if not download.keep_file:
                download.task = asyncio.create_task(self._download(repository, download, semaphore))
        applier = _Applier(self.store.root)
        succeeded = suspect = False
        try:
            parent = layers[first_missing - 1].chain_id if first_missing else None
            for layer in missing:
                download = downloads[layer.descriptor.digest]
                await self._apply(applier, layer, download, parent)
                parent = layer.chain_id
            for download in downloads.values():
                if download.task is not None:
                    await download.task
            succeeded = True
        except InvalidArchive:
            suspect = True  # a registry that lies: nothing it sent is kept for a resume
            raise
        finally:
            for download in downloads.values():
                if not download.state.done:
                    download.state.fail(Cancelled("pull cancelled"))
                if download.task is not None and not download.task.done():
                    download.task.cancel()
            tasks = [d.task for d in downloads.values() if d.task is not None]
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.get_running_loop().run_in_executor(None, applier.close)
            for download in downloads.values():
                if not download.keep_file and (
                    succeeded or suspect or os.fstat(download.fd).st_size == 0
                ):
                    download.path.unlink(missing_ok=True)  # still locked: waiters see it gone
                if download.fd >= 0:
                    os.close(download.fd)

    async def _prepare(self, descriptor: Descriptor, partial: Path) -> _Download:
        """The blob from the store, or its partial file, opened and locked. Called in
        layer order, so two processes pulling the same layers take the locks in the
        same order (the second waits, then finds the blobs in the store)."""
        from dockyard.client.download import open_partial

        for _attempt in range(3):
            if self.store.blobs.exists(descriptor.digest):
                return self._stored_blob(descriptor)
            fd = await open_partial(partial)
            if fd >= 0:
                download = _Download(descriptor, partial, fd=fd)
                download.opened.set()
                return download
        raise InvalidArchive(f"{partial}: removed again and again by another process")

    def _stored_blob(self, descriptor: Descriptor) -> _Download:
        """A blob the store has already: applied from there, nothing downloaded."""
        path = self.store.blobs.path(descriptor.digest)
        download = _Download(descriptor, path, keep_file=True)
        download.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        download.state.advance(descriptor.size)
        download.state.finish()
        download.opened.set()
        return download

    async def _download(self, repository, download: _Download, semaphore) -> None:  # type: ignore[no-untyped-def]
        from dockyard.client.download import download_blob

        descriptor = download.descriptor
        short, size = descriptor.digest.short, descriptor.size
        async with semaphore:

            def progress(done: int) -> None:
                self.events.progress(short, "Downloading", done, size)

            await download_blob(
                repository,
                descriptor.digest,
                size,
                download.path,
                download.fd,
                download.state,
                progress,
            )
        self.events.status(short, "Verifying Checksum")
        self.events.status(short, "Download complete")

    async def _apply(self, applier: _Applier, layer: _Layer, download: _Download, parent) -> None:  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        opened = asyncio.create_task(download.opened.wait())
        waits = {opened, download.task} if download.task is not None else {opened}
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if opened not in done:
            opened.cancel()
            assert download.task is not None
            download.task.result()  # raises the download's error
        size = layer.descriptor.size
        step = max(size // 50, 1 << 20)
        shown = [0]

        def report(done_bytes: int) -> None:
            if download.state.done and (done_bytes - shown[0] >= step or done_bytes >= size):
                shown[0] = done_bytes
                loop.call_soon_threadsafe(
                    self.events.progress, layer.short, "Extracting", done_bytes, size
                )

        await loop.run_in_executor(applier.pool, applier.apply, layer, download, parent, report)
        self.events.status(layer.short, "Pull complete")


def pull(
    store: Store,
    name: str,
    *,
    events: Events | None = None,
    all_tags: bool = False,
    platform: str | None = None,
    config: DaemonConfig | None = None,
    auth: dict | None = None,
) -> list[PullResult]:
    """Pull ``name`` into ``store``. ``auth``: an Engine API AuthConfig (username,
    password, identitytoken) used instead of config.json's credentials."""
    from dockyard.client.platforms import parse_platform

    puller = Puller(store, events, config, parse_platform(platform) if platform else None, auth)
    return puller.pull(name, all_tags)
