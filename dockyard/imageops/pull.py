"""`pull`: a copy from a registry repository (places/registry_source.py) into the
local store (places/store.py). Every manifest, config and blob is checked against
its digest; an interrupted pull resumes its partial downloads."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from dockyard import reference
from dockyard.client.daemonconfig import DaemonConfig, load_daemon_config
from dockyard.client.events import Events, NoEvents
from dockyard.digest import Digest
from dockyard.oci.types import Platform
from dockyard.reference import Reference
from dockyard.store import Store


@dataclass
class PullResult:
    reference: Reference
    image_id: Digest
    manifest_digest: Digest
    up_to_date: bool


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
    from dockyard.client.platforms import host_platform, parse_platform

    events = events or NoEvents()
    ref = reference.parse(name)
    if all_tags and (ref.tag or ref.digest):
        from dockyard.errors import InvalidArgument

        raise InvalidArgument("tag can't be used with --all-tags/-a")
    if not all_tags and ref.tag is None and ref.digest is None:
        events.line(f"Using default tag: {reference.DEFAULT_TAG}")
        ref = ref.with_default_tag()
    store.hold_shared_lock()
    chosen = parse_platform(platform) if platform else host_platform()
    results = asyncio.run(
        _pull(store, ref, all_tags, events, config or load_daemon_config(), chosen, auth)
    )
    newer = any(not result.up_to_date for result in results)
    what = "Downloaded newer image" if newer else "Image is up to date"
    events.line(f"Status: {what} for {ref.familiar_name if all_tags else ref.familiar()}")
    return results


async def _pull(
    store: Store,
    ref: Reference,
    all_tags: bool,
    events: Events,
    config: DaemonConfig,
    platform: Platform,
    auth: dict | None,
) -> list[PullResult]:
    from dockyard.client import credentials, pushcache
    from dockyard.client.session import FROM_CONFIG, new_http_session
    from dockyard.imageops.copy import copy_images
    from dockyard.places.base import report_to
    from dockyard.places.registry_source import (
        RegistrySource,
        fetch_manifest,
        first_answer,
        repositories_for,
    )
    from dockyard.places.store import StoreDestination

    report = report_to(events)
    found = credentials.from_auth_config(auth) if auth else FROM_CONFIG
    async with new_http_session() as http:
        repositories = repositories_for(http, ref, config, found)
        if all_tags:
            tags, repository = await first_answer(repositories, lambda r: r.tags())
            wanted = [(ref.with_tag(tag), [repository]) for tag in tags]
        else:
            wanted = [(ref, repositories)]
        results = []
        destination = StoreDestination(store, "Extracting", "Pull complete", "Already exists")
        try:
            for tagged, candidates in wanted:
                fetched, repository = await first_answer(
                    candidates, lambda r, t=tagged: fetch_manifest(r, t)
                )
                label = tagged.tag if tagged.tag and not tagged.digest else tagged.familiar()
                events.line(f"{label}: Pulling from {tagged.path}")
                source = RegistrySource(
                    [repository], tagged, store.tmp, platform, store.blobs, fetched
                )
                [stored] = await copy_images(source, destination, report)
                pushcache.remember(
                    store.db,
                    repository.session.host,
                    repository.path,
                    [str(digest) for digest in source.digests],
                )
                up_to_date = stored.previous[str(stored.names[0])] == stored.image_id
                events.line(f"Digest: {fetched.digest}")
                results.append(PullResult(tagged, stored.image_id, fetched.digest, up_to_date))
        finally:
            destination.close()
        return results
