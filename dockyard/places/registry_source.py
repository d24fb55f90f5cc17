"""A registry repository as the source of a copy (pull, `image copy docker://...`).

The manifest is asked of each endpoint in turn (mirrors first for docker.io); an
index is resolved to the platform. Layers download three at a time into partial
files named by digest under ``tmp`` (an interrupted copy resumes them with a Range
request) and are handed out while they grow: the destination takes each as its
bytes arrive. A blob the local store has already (``blobs``) is read from there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dockyard import reference
from dockyard.client.errors import ManifestUnknown, RegistryError, Unauthorized
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import Index, Manifest, Platform, parse_image_config
from dockyard.oci.types import parse_manifest_or_index as parse_manifest
from dockyard.places.base import Event, Image, Layer, Opener, Report
from dockyard.places.growing import Cancelled, GrowingReader, GrowingState
from dockyard.places.registry import FetchedManifest, RegistryRepository, manifest_not_found
from dockyard.reference import Reference
from dockyard.store.blobs import BlobStore

PARALLEL_DOWNLOADS = 3


class _Download:
    def __init__(self, layer: Layer, path: Path, fd: int, kept: bool) -> None:
        self.layer = layer
        self.path = path
        self.fd = fd
        self.kept = kept  # the store's own blob: never deleted
        self.state = GrowingState()
        self.task: asyncio.Task | None = None


async def first_answer(
    repositories: list[RegistryRepository],
    action: Callable[[RegistryRepository], Awaitable[Any]],
) -> tuple[Any, RegistryRepository]:
    """Run ``action`` on each endpoint in turn until one succeeds."""
    for position, repository in enumerate(repositories):
        try:
            return await action(repository), repository
        except (RegistryError, InvalidArchive):
            if position == len(repositories) - 1:
                raise
    raise AssertionError("no endpoint")


async def fetch_manifest(repository: RegistryRepository, ref: Reference) -> FetchedManifest:
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


class RegistrySource:
    """The image ``ref`` names in the first of ``repositories`` that answers."""

    def __init__(
        self,
        repositories: list[RegistryRepository],
        ref: Reference,
        tmp: Path,
        platform: Platform,
        blobs: BlobStore | None = None,
        fetched: FetchedManifest | None = None,
    ) -> None:
        self.repositories = repositories
        self.repository = repositories[-1]
        self.ref = ref
        self.tmp = tmp
        self.platform = platform
        self.blobs = blobs
        self.fetched = fetched
        self._downloads: dict[Digest, _Download] = {}
        self._semaphore = asyncio.Semaphore(PARALLEL_DOWNLOADS)
        self._suspect = False
        self.digests: list[Digest] = []  # the blobs of the image (pull remembers them)

    async def images(self) -> list[Image]:
        ref = self.ref
        if self.fetched is None:
            self.fetched, self.repository = await first_answer(
                self.repositories, lambda r: fetch_manifest(r, ref)
            )
        fetched = self.fetched
        manifest = parse_manifest(fetched.body, fetched.media_type or None)
        body, media_type = fetched.body, fetched.media_type
        if isinstance(manifest, Index):
            from dockyard.client.platforms import choose

            entry = choose(manifest, self.platform)
            child = await self.repository.get_manifest(str(entry.digest))
            body, media_type = child.body, child.media_type or entry.media_type
            manifest = parse_manifest(body, media_type)
            if not isinstance(manifest, Manifest):
                raise InvalidArchive("an index entry of an index is not supported")
        assert isinstance(manifest, Manifest)
        if manifest.config.media_type not in mt.CONFIGS:
            raise InvalidArchive(
                f"unsupported config media type {manifest.config.media_type!r}:"
                " not a container image"
            )
        config_bytes = await self.repository.get_blob_bytes(
            manifest.config.digest, manifest.config.size
        )
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
            Layer(diff_id, d.media_type, d.size, d.digest, d.digest.short)
            for d, diff_id in zip(manifest.layers, config.diff_ids, strict=True)
        ]
        self.digests = [d.digest for d in manifest.layers] + [manifest.config.digest]
        digest_ref = Reference(ref.domain, ref.path, None, fetched.digest)
        names = [ref, digest_ref] if ref.tag else [digest_ref]
        return [Image(config_bytes, layers, names, fetched.digest, body, media_type)]

    async def fetch(self, layers: list[Layer], report: Report) -> list[Opener]:
        """Called in layer order, so two processes pulling the same layers into one
        store lock the partial files in the same order (the second waits, then finds
        the blobs in the store)."""
        from dockyard.places.registry_download import partial_path

        fresh: list[_Download] = []
        for layer in layers:
            assert layer.digest is not None
            if layer.digest in self._downloads:
                continue
            download = await self._prepare(layer, partial_path(self.tmp, layer.digest))
            self._downloads[layer.digest] = download
            report(Event(layer.item, "Pulling fs layer"))
            if download.kept:
                report(Event(layer.item, "Download complete"))
            else:
                fresh.append(download)
        for download in fresh[PARALLEL_DOWNLOADS:]:
            report(Event(download.layer.item, "Waiting"))
        for download in fresh:
            download.task = asyncio.create_task(self._download(download, report))
        return [self._opener(self._downloads[layer.digest]) for layer in layers]  # type: ignore[index]

    async def _prepare(self, layer: Layer, partial: Path) -> _Download:
        """The blob from the store, or its partial file, opened and locked."""
        from dockyard.places.registry_download import open_partial

        assert layer.digest is not None
        for _attempt in range(3):
            if self.blobs is not None and self.blobs.exists(layer.digest):
                path = self.blobs.path(layer.digest)
                download = _Download(layer, path, os.open(path, os.O_RDONLY | os.O_CLOEXEC), True)
                download.state.advance(layer.size)
                download.state.finish()
                return download
            fd = await open_partial(partial)
            if fd >= 0:
                return _Download(layer, partial, fd, False)
        raise InvalidArchive(f"{partial}: removed again and again by another process")

    async def _download(self, download: _Download, report: Report) -> None:
        from dockyard.places.registry_download import download_blob

        layer = download.layer
        assert layer.digest is not None
        try:
            async with self._semaphore:

                def progress(done: int) -> None:
                    report(Event(layer.item, "Downloading", done, layer.size))

                await download_blob(
                    self.repository,
                    layer.digest,
                    layer.size,
                    download.path,
                    download.fd,
                    download.state,
                    progress,
                )
        except InvalidArchive:
            self._suspect = True  # a registry that lies: nothing it sent is kept
            raise
        report(Event(layer.item, "Verifying Checksum"))
        report(Event(layer.item, "Download complete"))

    @staticmethod
    def _opener(download: _Download) -> Opener:
        # a reader is its own context manager (closing it leaves the descriptor open)
        return lambda: GrowingReader(download.fd, download.state, download.path)  # type: ignore[return-value]

    def interrupt(self) -> None:
        for download in self._downloads.values():
            if not download.state.done:
                download.state.fail(Cancelled("copy cancelled"))

    async def close(self, succeeded: bool) -> None:
        downloads = list(self._downloads.values())
        tasks = [d.task for d in downloads if d.task is not None]
        if not succeeded:
            self.interrupt()
            for task in tasks:
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        if any(isinstance(result, InvalidArchive) for result in results):
            self._suspect = True
        for download in downloads:
            if not download.kept and (
                succeeded or self._suspect or os.fstat(download.fd).st_size == 0
            ):
                download.path.unlink(missing_ok=True)  # still locked: waiters see it gone
            os.close(download.fd)
        self._downloads.clear()


def repositories_for(http, ref: Reference, config, credentials) -> list[RegistryRepository]:  # type: ignore[no-untyped-def]
    """Where to pull from: the mirrors first for docker.io, then the registry."""
    from urllib.parse import urlsplit

    from dockyard.client.session import RegistrySession, registry_host

    repositories = []
    if ref.domain == reference.DEFAULT_DOMAIN:
        for mirror in config.mirrors:
            session = RegistrySession(http, urlsplit(mirror).netloc, config, endpoint=mirror)
            repositories.append(RegistryRepository(session, ref.path))
    session = RegistrySession(http, registry_host(ref.domain), config, credentials=credentials)
    repositories.append(RegistryRepository(session, ref.path))
    return repositories
