"""The web page: browse and search repositories, a page per repository, sign in, stars."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from dockyard.digest import Digest
from dockyard.errors import DockyardError
from dockyard.oci.types import Index, Manifest, parse_manifest_or_index
from dockyard.registry import search
from dockyard.registry.access import ANONYMOUS, Identity
from dockyard.registry.errors import RegistryError
from dockyard.registry.names import is_valid_name
from dockyard.registry.state import RegistryState, state_of
from dockyard.registry.web_html import (
    LayerRow,
    RepoPage,
    RepoRow,
    TagRow,
    format_created,
    index_page,
    layout,
    login_page,
    repo_link,
    repo_page,
)
from dockyard.registry.web_session import end_session, session_identity, start_session

MAX_TAGS = 200


async def web_identity(request: web.Request, state: RegistryState) -> Identity:
    if state.access.is_open():
        return ANONYMOUS
    identity = session_identity(request, state)
    if identity is not None:
        return identity
    if request.headers.get("Authorization"):
        return await state.access.optional_identity(request)
    return ANONYMOUS


def html(title: str, body: str, identity: Identity, state: RegistryState, status: int = 200):
    text = layout(title, body, identity.user, not state.access.is_open())
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


async def index(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    identity = await web_identity(request, state)
    query = request.query.get("q", "").strip()
    found = search.rank(search.repositories(state, identity), query)
    rows = [RepoRow(r.name, r.display_name, r.description, r.stars, r.official) for r in found]
    return html("dockyard registry", index_page(query, rows), identity, state)


def _image_size(manifest: Manifest) -> int:
    return manifest.config.size + sum(layer.size for layer in manifest.layers)


def _created(state: RegistryState, manifest: Manifest) -> str:
    try:
        config = json.loads(state.content.read(manifest.config.digest))
    except (OSError, ValueError):
        return ""
    return format_created(config.get("created") or "") if isinstance(config, dict) else ""


def tag_rows(state: RegistryState, name: str) -> list[TagRow]:
    rows = state.meta.all(
        "SELECT t.tag, t.digest, m.media_type FROM tags t JOIN manifests m "
        "ON m.repo = t.repo AND m.digest = t.digest WHERE t.repo = ? ORDER BY t.tag LIMIT ?",
        name,
        MAX_TAGS,
    )
    result = []
    for tag, digest, media_type in rows:
        row = TagRow(tag, digest, media_type, 0)
        try:
            parsed = parse_manifest_or_index(state.content.read(Digest.parse(digest)))
        except (OSError, DockyardError):
            result.append(row)
            continue
        if isinstance(parsed, Manifest):
            row.size = _image_size(parsed)
            row.created = _created(state, parsed)
            row.layers = [LayerRow(str(d.digest), d.size, d.media_type) for d in parsed.layers]
        elif isinstance(parsed, Index):
            for entry in parsed.manifests:
                if entry.platform:
                    platform = f"{entry.platform.os}/{entry.platform.architecture}"
                    if entry.platform.variant:
                        platform += f"/{entry.platform.variant}"
                    row.platforms.append(platform)
                try:
                    child = parse_manifest_or_index(state.content.read(entry.digest))
                except (OSError, DockyardError):
                    continue
                if isinstance(child, Manifest):
                    row.size += _image_size(child)
                    row.created = row.created or _created(state, child)
        result.append(row)
    return result


async def repository(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    identity = await web_identity(request, state)
    name = request.match_info["name"]
    item = search.summary(state, name) if is_valid_name(name) else None
    if item is None or not state.access.may_pull(identity, name):
        body = "<h1>Not found</h1><p>No such repository.</p>"
        return html("not found", body, identity, state, status=404)
    tags = await asyncio.to_thread(tag_rows, state, name)
    starred = None
    if identity.user:
        starred = state.access.accounts.starred(name, identity.user)
    page = RepoPage(
        name=item.name,
        display_name=item.display_name,
        description=item.description,
        stars=item.stars,
        official=item.official,
        private=item.private,
        starred=starred,
        host=request.host,
        tags=tags,
    )
    return html(item.display_name, repo_page(page), identity, state)


async def star(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    identity = await web_identity(request, state)
    name = request.match_info["name"]
    if identity.user is None:
        raise web.HTTPSeeOther("/login")
    if not is_valid_name(name) or search.summary(state, name) is None:
        raise web.HTTPNotFound()
    if not state.access.may_pull(identity, name):
        raise web.HTTPNotFound()
    form = await request.post()
    on = form.get("action") != "unstar"
    await asyncio.to_thread(state.access.accounts.star, name, identity.user, on)
    raise web.HTTPSeeOther(repo_link(name))


async def login(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    if request.method == "GET":
        return html("Sign in", login_page(), ANONYMOUS, state)
    form = await request.post()
    try:
        identity = await state.access.check_password(
            str(form.get("username", "")),
            str(form.get("password", "")),
            state.access.client_address.of(request),
        )
    except RegistryError as error:
        return html("Sign in", login_page(error.message), ANONYMOUS, state, error.status)
    if identity is None or identity.user is None:
        return html("Sign in", login_page("Wrong user name or password."), ANONYMOUS, state, 401)
    response = web.HTTPSeeOther("/")
    start_session(response, state, identity.user, secure=request.secure)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/")
    end_session(response)
    raise response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_post("/r/{name:.+}/star", star)
    app.router.add_get("/r/{name:.+}", repository)
    app.router.add_route("GET", "/login", login)
    app.router.add_route("POST", "/login", login)
    app.router.add_post("/logout", logout)
