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
from dockyard.digest import Digest
from dockyard.errors import InvalidArgument
from dockyard.places.base import Report, no_report
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
    if transport == "docker":
        if not rest.startswith("//"):
            raise InvalidArgument(f"invalid image name {text!r}: docker:// needs two slashes")
        rest = rest[2:]
    return transport, rest


def _file_and_ref(rest: str) -> tuple[Path, str | None]:
    path, _, ref = rest.partition(":")
    return Path(path), ref or None


def _registry_ref(rest: str) -> Reference:
    ref = reference.parse(rest)
    return ref if ref.tag or ref.digest else ref.with_default_tag()


def _with_insecure(config: DaemonConfig, ref: Reference, verify: bool) -> DaemonConfig:
    if verify:
        return config
    from dockyard.client.session import registry_host

    insecure = [*config.insecure, registry_host(ref.domain)]
    return DaemonConfig(config.mirrors, insecure, config.index_server, config.path)


class _Plan:
    """What one `image copy` holds open: the store, an HTTP session, temp dirs, files."""

    def __init__(self, root: Path | None, config: DaemonConfig) -> None:
        self.root = root
        self.config = config
        self.stack = AsyncExitStack()
        self._store: Store | None = None
        self._http: Any = None
        self.finish: list[Any] = []  # called with True (success) or False at the end

    def store(self) -> Store:
        if self._store is None:
            if self.root is None:
                raise InvalidArgument("dockyard: needs a store root")
            self._store = Store.open(self.root)
            self.stack.callback(self._store.close)
        return self._store

    async def http(self) -> Any:
        if self._http is None:
            from dockyard.client.session import new_http_session

            self._http = await self.stack.enter_async_context(new_http_session())
        return self._http

    def temporary(self) -> Path:
        directory = tempfile.TemporaryDirectory(prefix="dockyard-copy-")
        self.stack.callback(directory.cleanup)
        return Path(directory.name)

    def output(self, path: Path) -> Any:
        """A file written next to ``path`` and renamed over it only when the copy succeeds."""
        directory = path.parent if str(path.parent) else Path(".")
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        out = os.fdopen(fd, "wb")

        def finish(succeeded: bool) -> None:
            out.close()
            if succeeded:
                os.chmod(name, 0o644)
                os.replace(name, path)
            else:
                Path(name).unlink(missing_ok=True)

        self.finish.append(finish)
        return out


async def _source(plan: _Plan, text: str, verify: bool) -> Any:
    transport, rest = split_transport(text)
    if transport == "docker":
        from dockyard.client.platforms import host_platform
        from dockyard.client.session import FROM_CONFIG
        from dockyard.places.registry_source import RegistrySource, repositories_for

        ref = _registry_ref(rest)
        config = _with_insecure(plan.config, ref, verify)
        repositories = repositories_for(await plan.http(), ref, config, FROM_CONFIG)
        return RegistrySource(repositories, ref, plan.temporary(), host_platform())
    if transport in ("docker-archive", "oci-archive"):
        from dockyard.places.docker_archive import DockerArchiveSource

        path, wanted = _file_and_ref(rest)
        return DockerArchiveSource(path, plan.temporary(), wanted)
    if transport == "oci":
        from dockyard.places.oci_layout import OciLayoutSource

        path, wanted = _file_and_ref(rest)
        return OciLayoutSource(path, wanted)
    from dockyard.imageops.resolve import resolve_image_id
    from dockyard.places.store import StoreSource, store_image

    store = plan.store()
    image_id = resolve_image_id(store, rest)
    names = [reference.parse(rest).with_default_tag()] if not _is_id(rest) else []
    return StoreSource(store, [store_image(store, image_id, names)])


def _is_id(text: str) -> bool:
    return text.startswith("sha256:") or bool(reference.HEX_ID_RE.match(text))


async def _destination(plan: _Plan, text: str, verify: bool, compression: str | None) -> Any:
    transport, rest = split_transport(text)
    if transport == "docker":
        from dockyard.client.session import FROM_CONFIG, RegistrySession, registry_host
        from dockyard.places.registry import RegistryRepository
        from dockyard.places.registry_destination import RegistryDestination

        ref = _registry_ref(rest)
        if ref.digest is not None:
            raise InvalidArgument("cannot copy to a digest reference")
        config = _with_insecure(plan.config, ref, verify)
        session = RegistrySession(
            await plan.http(), registry_host(ref.domain), config, credentials=FROM_CONFIG
        )
        return RegistryDestination(RegistryRepository(session, ref.path), ref.tag, compression)
    if transport == "docker-archive":
        from dockyard.places.docker_archive import DockerArchiveDestination

        path, ref_text = _file_and_ref(rest)
        names = [reference.parse(ref_text).with_default_tag()] if ref_text else None
        return DockerArchiveDestination(plan.output(path), names)
    if transport == "oci-archive":
        from dockyard.places.oci_archive import OciArchiveDestination

        path, ref_text = _file_and_ref(rest)
        return OciArchiveDestination(plan.output(path), ref_text)
    if transport == "oci":
        from dockyard.places.oci_layout import OciLayoutDestination

        path, ref_text = _file_and_ref(rest)
        return OciLayoutDestination(path, ref_text)
    from dockyard.places.store import StoreDestination

    name = reference.parse(rest).with_default_tag()
    return StoreDestination(plan.store(), "Extracting", "Pull complete", "Already exists", [name])


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
    from dockyard.imageops.copy import copy_images

    plan = _Plan(root, config or load_daemon_config())
    succeeded = False
    async with plan.stack:
        if all_images:
            return [
                await _copy_all(
                    plan,
                    source_text,
                    destination_text,
                    source_tls_verify,
                    destination_tls_verify,
                    report,
                )
            ]
        destination = None
        try:
            source = await _source(plan, source_text, source_tls_verify)
            destination = await _destination(
                plan, destination_text, destination_tls_verify, compression
            )
            results = await copy_images(source, destination, report)
            succeeded = True
            return results
        finally:
            if destination is not None:
                destination.close()
            for finish in plan.finish:
                finish(succeeded)


async def _copy_all(
    plan: _Plan,
    source_text: str,
    destination_text: str,
    source_verify: bool,
    destination_verify: bool,
    report: Report,
) -> Digest:
    from dockyard.client.session import FROM_CONFIG, RegistrySession, registry_host
    from dockyard.places.registry import RegistryRepository
    from dockyard.places.registry_index import copy_index
    from dockyard.places.registry_source import fetch_manifest, first_answer, repositories_for

    (source_kind, source_rest), (target_kind, target_rest) = (
        split_transport(source_text),
        split_transport(destination_text),
    )
    if source_kind != "docker" or target_kind != "docker":
        raise InvalidArgument("--all copies an index between docker:// places only")
    ref = _registry_ref(source_rest)
    config = _with_insecure(plan.config, ref, source_verify)
    http = await plan.http()
    repositories = repositories_for(http, ref, config, FROM_CONFIG)
    fetched, repository = await first_answer(repositories, lambda r: fetch_manifest(r, ref))
    target = _registry_ref(target_rest)
    if target.digest is not None:
        raise InvalidArgument("cannot copy to a digest reference")
    target_config = _with_insecure(plan.config, target, destination_verify)
    session = RegistrySession(
        http, registry_host(target.domain), target_config, credentials=FROM_CONFIG
    )
    return await copy_index(
        repository,
        fetched,
        RegistryRepository(session, target.path),
        target.tag or "latest",
        report,
    )


def run_copy_image(source_text: str, destination_text: str, **options: Any) -> list[Any]:
    return asyncio.run(copy_image(source_text, destination_text, **options))
