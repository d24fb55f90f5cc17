"""Handlers for manifests: GET/HEAD with content negotiation, PUT, DELETE."""

from __future__ import annotations

import asyncio

from aiohttp import web

from dockyard.digest import Digest
from dockyard.registry.access import Identity
from dockyard.registry.errors import RegistryError
from dockyard.registry.manifests import MAX_MANIFEST, negotiate
from dockyard.registry.names import check_tag, is_digest_reference, parse_digest
from dockyard.registry.state import RegistryState


def _split_reference(reference: str) -> tuple[str | None, Digest | None]:
    if is_digest_reference(reference):
        return None, parse_digest(reference)
    return check_tag(reference), None


def _split_read_reference(reference: str) -> tuple[str | None, Digest | None]:
    """As ``_split_reference``, but a tag no push could have written is simply not there:
    404 MANIFEST_UNKNOWN for reads (as the CNCF registry and the OCI conformance suite),
    400 TAG_INVALID stays for writes."""
    try:
        return _split_reference(reference)
    except RegistryError as error:
        if error.code != "TAG_INVALID":
            raise
        raise RegistryError("MANIFEST_UNKNOWN", {"Tag": reference}) from None


def _accept_list(request: web.Request) -> list[str]:
    accepted: list[str] = []
    for header in request.headers.getall("Accept", []):
        for item in header.split(","):
            media_type = item.split(";")[0].strip()
            if media_type:
                accepted.append(media_type)
    return accepted


async def get_manifest(
    request: web.Request, state: RegistryState, identity: Identity, name: str, reference: str
) -> web.StreamResponse:
    tag, digest = _split_read_reference(reference)
    manifests = state.manifests
    stored = manifests.resolve(name, reference, digest)
    if tag is not None:
        stored, data = negotiate(stored, _accept_list(request), manifests, name)
    else:
        data = manifests.read(stored)
    text = str(stored.digest)
    headers = {
        "Content-Type": stored.media_type,
        "Docker-Content-Digest": text,
        "Etag": f'"{text}"',
    }
    if request.headers.get("If-None-Match") == f'"{text}"':
        return web.Response(status=304, headers=headers)
    return web.Response(body=data, headers=headers)


async def put_manifest(
    request: web.Request, state: RegistryState, identity: Identity, name: str, reference: str
) -> web.StreamResponse:
    tag, digest = _split_reference(reference)
    if request.content_length is not None and request.content_length > MAX_MANIFEST:
        raise RegistryError(
            "MANIFEST_INVALID", f"manifest larger than {MAX_MANIFEST} bytes", status=413
        )
    data = await request.content.read(MAX_MANIFEST + 1)
    while len(data) <= MAX_MANIFEST:
        more = await request.content.read(MAX_MANIFEST + 1 - len(data))
        if not more:
            break
        data += more
    if len(data) > MAX_MANIFEST:
        raise RegistryError(
            "MANIFEST_INVALID", f"manifest larger than {MAX_MANIFEST} bytes", status=413
        )
    result = await asyncio.to_thread(
        state.manifests.put, name, tag, digest, data, request.headers.get("Content-Type")
    )
    text = str(result.digest)
    headers = {"Location": f"/v2/{name}/manifests/{text}", "Docker-Content-Digest": text}
    if result.subject is not None:
        headers["OCI-Subject"] = str(result.subject)
    return web.Response(status=201, headers=headers)


async def delete_manifest(
    request: web.Request, state: RegistryState, identity: Identity, name: str, reference: str
) -> web.StreamResponse:
    tag, digest = _split_reference(reference)
    await asyncio.to_thread(state.manifests.delete, name, tag, digest)
    return web.Response(status=202)
