"""Handlers that list: the catalog, a repository's tags, the referrers of a manifest."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from dockyard.oci import mediatypes as mt
from dockyard.registry.access import Identity
from dockyard.registry.errors import JSON_TYPE, RegistryError
from dockyard.registry.names import parse_digest
from dockyard.registry.state import RegistryState


def _json(data: object, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps(data, separators=(",", ":")).encode() + b"\n"
    response = web.Response(body=body, headers=headers)
    response.headers["Content-Type"] = JSON_TYPE
    return response


MAX_PAGE_SIZE = 1 << 31  # a larger n would overflow SQLite's integers


def _page_size(request: web.Request, default: int | None) -> int | None:
    text = request.query.get("n")
    if text is None or not (text.isascii() and text.isdigit()):
        return default
    return min(int(text), MAX_PAGE_SIZE)


def _next_link(path: str, last: str, n: int) -> str:
    return f'<{path}?{urlencode({"last": last, "n": n})}>; rel="next"'


async def catalog(request: web.Request, state: RegistryState) -> web.StreamResponse:
    access = state.access
    identity = await access.optional_identity(request)
    if not access.is_open() and identity.anonymous and not access.config.anonymous_pull:
        raise access.challenge(request, None, None)
    limit = _page_size(request, state.config.catalog_max)
    limit = min(limit if limit is not None else state.config.catalog_max, state.config.catalog_max)
    cursor = request.query.get("last", "")
    names: list[str] = []
    more = False
    while limit > 0 and not more:
        rows = state.meta.all(
            "SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?", cursor, 500
        )
        if not rows:
            break
        for (name,) in rows:
            if access.may_pull(identity, name):
                if len(names) == limit:
                    more = True
                    break
                names.append(name)
        cursor = rows[-1][0]
    headers = {}
    if more and names:
        headers["Link"] = _next_link("/v2/_catalog", names[-1], limit)
    return _json({"repositories": names}, headers)


async def list_tags(
    request: web.Request, state: RegistryState, identity: Identity, name: str
) -> web.StreamResponse:
    if state.meta.one("SELECT 1 FROM repositories WHERE name = ?", name) is None:
        raise RegistryError("NAME_UNKNOWN", {"name": name})
    limit = _page_size(request, None)
    last = request.query.get("last", "")
    if limit is None:
        rows = state.meta.all(
            "SELECT tag FROM tags WHERE repo = ? AND tag > ? ORDER BY tag", name, last
        )
        return _json({"name": name, "tags": [r[0] for r in rows]})
    rows = state.meta.all(
        "SELECT tag FROM tags WHERE repo = ? AND tag > ? ORDER BY tag LIMIT ?",
        name,
        last,
        limit + 1,
    )
    tags = [r[0] for r in rows[:limit]]
    headers = {}
    if len(rows) > limit and tags:
        headers["Link"] = _next_link(f"/v2/{name}/tags/list", tags[-1], limit)
    return _json({"name": name, "tags": tags}, headers)


async def referrers(
    request: web.Request, state: RegistryState, identity: Identity, name: str, digest: str
) -> web.StreamResponse:
    subject = parse_digest(digest)
    wanted = request.query.get("artifactType")
    rows = state.meta.all(
        "SELECT digest, media_type, size, artifact_type, annotations FROM manifests "
        "WHERE repo = ? AND subject = ? ORDER BY created, digest",
        name,
        str(subject),
    )
    descriptors = []
    for row_digest, media_type, size, artifact_type, notes in rows:
        if wanted is not None and artifact_type != wanted:
            continue
        descriptor: dict = {"mediaType": media_type, "digest": row_digest, "size": size}
        if artifact_type:
            descriptor["artifactType"] = artifact_type
        if notes:
            descriptor["annotations"] = json.loads(notes)
        descriptors.append(descriptor)
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}
    response = web.Response(body=json.dumps(index, separators=(",", ":")).encode())
    response.headers["Content-Type"] = mt.OCI_INDEX
    if wanted is not None:
        response.headers["OCI-Filters-Applied"] = "artifactType"
    return response
