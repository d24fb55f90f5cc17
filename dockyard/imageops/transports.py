"""`image copy SRC DST`: skopeo's transport names to places, and the copy between them.

    docker://HOST/REPO[:TAG|@DIGEST]   a registry repository
    docker-archive:FILE[:REF]          a docker-archive (read: any version; written: Docker 25)
    oci:DIR[:REF]                      an OCI layout directory
    oci-archive:FILE[:REF]             an OCI layout as a tar
    dockyard:REF                       the local store

Any source goes to any destination; the store is used only when it is one of them.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from dockyard import reference
from dockyard.client.daemonconfig import DaemonConfig, load_daemon_config
from dockyard.client.platforms import host_platform
from dockyard.client.session import FROM_CONFIG, new_http_session, registry_host
from dockyard.errors import InvalidArgument
from dockyard.imageops.copy import copy_images
from dockyard.imageops.resolve import resolve_image_id
from dockyard.places.base import Report, no_report
from dockyard.places.docker_archive import DockerArchiveDestination, DockerArchiveSource
from dockyard.places.oci_archive import OciArchiveDestination
from dockyard.places.oci_layout import OciLayoutDestination, OciLayoutSource
from dockyard.places.registry import RegistryRepository
from dockyard.places.registry_destination import RegistryDestination
from dockyard.places.registry_index import copy_index
from dockyard.places.registry_source import (
    RegistrySource,
    fetch_manifest,
    first_answer,
    repositories_for,
)
from dockyard.places.store import StoreDestination, StoreSource, store_image
from dockyard.reference import Reference
from dockyard.store import Store

TRANSPORTS = ("docker", "docker-archive", "oci", "oci-archive", "dockyard")


def split_transport(text: str) -> tuple[str, str]:
    transport, _, rest = text.partition(":")
    if transport not in TRANSPORTS or not rest:
        raise InvalidArgument(
            f"invalid image name {text!r}: use docker://, docker-archive:, oci:, oci-archive:"
            " or dockyard:"
        )
    if transport == "docker" and not rest.startswith("//"):
        raise InvalidArgument(f"invalid image name {text!r}: docker:// needs two slashes")
    return transport, rest.removeprefix("//") if transport == "docker" else rest


class _Places:
    """What the places of one `image copy` need, closed with it: the store, one HTTP
    session, temporary directories; output files are renamed into place on success."""

    def __init__(self, root: Path | None, config: DaemonConfig, stack: AsyncExitStack) -> None:
        self.root, self.config, self.stack = root, config, stack
        self._store: Store | None = None
        self._http: Any = None
        self.outputs: list[tuple[Any, str, Path]] = []

    def store(self) -> Store:
        if self._store is None:
            if self.root is None:
                raise InvalidArgument("dockyard: needs a store root")
            self._store = Store.open(self.root)
            self.stack.callback(self._store.close)
        return self._store

    async def registry(self, rest: str, verify: bool) -> tuple[Reference, list[RegistryRepository]]:
        """The reference, and the repositories to read it from: docker.io's mirrors
        first, the registry itself last (the one a copy writes to)."""
        ref = reference.parse(rest)
        ref = ref if ref.tag or ref.digest else ref.with_default_tag()
        config = self.config
        if not verify:
            insecure = [*config.insecure, registry_host(ref.domain)]
            config = DaemonConfig(config.mirrors, insecure, config.index_server, config.path)
        if self._http is None:
            self._http = await self.stack.enter_async_context(new_http_session())
        return ref, repositories_for(self._http, ref, config, FROM_CONFIG)

    async def registry_destination(self, rest: str, verify: bool) -> tuple[str, RegistryRepository]:
        ref, repositories = await self.registry(rest, verify)
        if ref.digest is not None:
            raise InvalidArgument("cannot copy to a digest reference")
        return ref.tag or reference.DEFAULT_TAG, repositories[-1]

    def temporary(self) -> Path:
        directory = tempfile.TemporaryDirectory(prefix="dockyard-copy-")
        self.stack.callback(directory.cleanup)
        return Path(directory.name)

    def output(self, path: Path) -> Any:
        """A file written next to ``path``, renamed over it by ``finish`` on success."""
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        self.outputs.append((out := os.fdopen(fd, "wb"), name, path))
        return out

    def finish(self, succeeded: bool) -> None:
        for out, name, path in self.outputs:
            out.close()
            if succeeded:
                os.chmod(name, 0o644)
                os.replace(name, path)
            else:
                Path(name).unlink(missing_ok=True)


def _file_and_ref(rest: str) -> tuple[Path, str | None]:
    path, _, ref = rest.partition(":")
    return Path(path), ref or None


async def _source(places: _Places, text: str, verify: bool) -> Any:
    transport, rest = split_transport(text)
    path, wanted = _file_and_ref(rest)
    if transport == "docker":
        ref, repositories = await places.registry(rest, verify)
        return RegistrySource(repositories, ref, places.temporary(), host_platform())
    if transport in ("docker-archive", "oci-archive"):
        return DockerArchiveSource(path, places.temporary(), wanted)
    if transport == "oci":
        return OciLayoutSource(path, wanted)
    store = places.store()
    image_id = resolve_image_id(store, rest)
    is_id = rest.startswith("sha256:") or reference.HEX_ID_RE.match(rest)
    names = [] if is_id else [reference.parse(rest).with_default_tag()]
    return StoreSource(store, [store_image(store, image_id, names)])


async def _destination(places: _Places, text: str, verify: bool, compression: str | None) -> Any:
    transport, rest = split_transport(text)
    path, name = _file_and_ref(rest)
    if transport == "docker":
        tag, repository = await places.registry_destination(rest, verify)
        return RegistryDestination(repository, tag, compression)
    if transport == "docker-archive":
        names = [reference.parse(name).with_default_tag()] if name else None
        return DockerArchiveDestination(places.output(path), names)
    if transport == "oci-archive":
        return OciArchiveDestination(places.output(path), name)
    if transport == "oci":
        return OciLayoutDestination(path, name)
    tag = reference.parse(rest).with_default_tag()
    return StoreDestination(places.store(), "Extracting", "Pull complete", "Already exists", [tag])


async def copy_image(
    source_text: str,
    destination_text: str,
    *,
    root: Path | None = None,
    source_tls_verify: bool = True,
    destination_tls_verify: bool = True,
    compression: str | None = None,
    all_images: bool = False,
    config: DaemonConfig | None = None,
    report: Report = no_report,
) -> list[Any]:
    """Copy the image(s) ``source_text`` names to ``destination_text``; ``all_images``:
    an index with every image it lists (between registries)."""
    async with AsyncExitStack() as stack:
        places = _Places(root, config or load_daemon_config(), stack)
        if all_images:  # an index and every image it lists, byte for byte
            (source_kind, source), (target_kind, target) = map(
                split_transport, (source_text, destination_text)
            )
            if source_kind != "docker" or target_kind != "docker":
                raise InvalidArgument("--all copies an index between docker:// places only")
            ref, repositories = await places.registry(source, source_tls_verify)
            fetched, repository = await first_answer(repositories, lambda r: fetch_manifest(r, ref))
            tag, target_repository = await places.registry_destination(
                target, destination_tls_verify
            )
            return [await copy_index(repository, fetched, target_repository, tag, report)]
        destination, succeeded = None, False
        try:
            source = await _source(places, source_text, source_tls_verify)
            destination = await _destination(
                places, destination_text, destination_tls_verify, compression
            )
            results = await copy_images(source, destination, report)
            succeeded = True
            return results
        finally:
            if destination is not None:
                destination.close()
            places.finish(succeeded)


def run_copy_image(source_text: str, destination_text: str, **options: Any) -> list[Any]:
    return asyncio.run(copy_image(source_text, destination_text, **options))
