"""`push`: a copy from the local store (places/store.py) to a registry repository
(places/registry_destination.py: skip, mount, compress once, Docker's manifest)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from dockyard import reference
from dockyard.client.daemonconfig import DaemonConfig, load_daemon_config
from dockyard.client.events import Events, NoEvents
from dockyard.digest import Digest
from dockyard.errors import InvalidArgument, NotFound
from dockyard.reference import Reference
from dockyard.store import Store


@dataclass
class PushResult:
    reference: Reference
    digest: Digest
    size: int


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
    from dockyard.places.registry_destination import check_compression

    check_compression(compression)
    events = events or NoEvents()
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
                for n, i, kind in store.all_refs()
                if kind == "tag" and n.startswith(prefix)
            ),
            key=lambda pair: pair[0].tag or "",
        )
        tags = [(r, i) for r, i in tags if r.name == ref.name]
        if not tags:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
    else:
        if ref.tag is None:
            events.line(f"Using default tag: {reference.DEFAULT_TAG}")
            ref = ref.with_default_tag()
        image_id = store.lookup_ref(ref)
        if image_id is None:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
        tags = [(ref, image_id)]
    store.hold_shared_lock()
    return asyncio.run(_push(store, ref, tags, events, config, compression, auth))


async def _push(
    store: Store,
    ref: Reference,
    tags: list[tuple[Reference, Digest]],
    events: Events,
    config: DaemonConfig | None,
    compression: str | None,
    auth: dict | None,
) -> list[PushResult]:
    from dockyard.client import credentials, pushcache
    from dockyard.client.session import FROM_CONFIG, new_http_session
    from dockyard.imageops.copy import copy_images
    from dockyard.places.base import Image, report_to
    from dockyard.places.registry_destination import RegistryDestination
    from dockyard.places.registry_source import repositories_for
    from dockyard.places.store import CompressedKeeper, StoreSource, pushable_layer

    found = credentials.from_auth_config(auth) if auth else FROM_CONFIG
    events.line(f"The push refers to repository [{ref.name}]")
    async with new_http_session() as http:
        # the registry itself: the last of the places a pull would ask (mirrors first)
        repository = repositories_for(http, ref, config or load_daemon_config(), found)[-1]
        host = repository.session.host
        results = []
        for tagged, image_id in tags:
            record = store.image(image_id)
            layers = [
                pushable_layer(store, layer, compression)
                for layer in store.layer_chain(record.top_chain)
            ]
            image = Image(store.blobs.read(image_id), layers, [tagged])
            destination = RegistryDestination(
                repository,
                tagged.tag,
                compression,
                lambda digest: pushcache.repositories_with(store.db, host, str(digest)),
                CompressedKeeper(store),
            )
            [pushed] = await copy_images(
                StoreSource(store, [image]), destination, report_to(events)
            )
            pushcache.remember(
                store.db,
                host,
                repository.path,
                [str(digest) for digest in destination.blobs] + [str(image_id)],
            )
            store.set_tag(Reference(tagged.domain, tagged.path, None, pushed.digest), image_id)
            results.append(PushResult(tagged, pushed.digest, pushed.size))
        return results
