"""Docker Hub's search API (``GET /v1/search``) and the star API.

``docker search HOST/TERM`` asks ``/v1/search?q=TERM&n=25``. Results are ranked: exact
name first, then by stars, then by name; ``library/NAME`` is shown as ``NAME``.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from aiohttp import web

from dockyard.registry.access import Identity
from dockyard.registry.api import error_response, json_response
from dockyard.registry.autobuild import automated_names
from dockyard.registry.errors import RegistryError
from dockyard.registry.names import check_name
from dockyard.registry.state import RegistryState, state_of
from dockyard.registry.web_session import session_identity

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class RepoSummary:
    name: str
    description: str
    official: bool
    private: bool
    stars: int
    automated: bool = False

    @property
    def display_name(self) -> str:
        if self.name.startswith("library/") and self.name.count("/") == 1:
            return self.name[len("library/") :]
        return self.name

    def to_json(self) -> dict:
        return {
            "name": self.display_name,
            "description": self.description,
            "star_count": self.stars,
            "is_official": self.official,
            "is_automated": self.automated,
        }


def repositories(state: RegistryState, identity: Identity) -> list[RepoSummary]:
    """Every repository the caller may pull, with its description, flags and stars."""
    rows = state.meta.all(
        "SELECT r.name, r.description, r.official, r.private, "
        "(SELECT COUNT(*) FROM stars s WHERE s.repo = r.name) FROM repositories r ORDER BY r.name"
    )
    automated = automated_names(state.meta)
    summaries = [
        RepoSummary(r[0], r[1], bool(r[2]), bool(r[3]), r[4], r[0] in automated) for r in rows
    ]
    return [s for s in summaries if state.access.may_pull(identity, s.name)]


def summary(state: RegistryState, name: str) -> RepoSummary | None:
    row = state.meta.one(
        "SELECT r.name, r.description, r.official, r.private, "
        "(SELECT COUNT(*) FROM stars s WHERE s.repo = r.name) FROM repositories r WHERE r.name = ?",
        name,
    )
    if row is None:
        return None
    automated = row[0] in automated_names(state.meta)
    return RepoSummary(row[0], row[1], bool(row[2]), bool(row[3]), row[4], automated)


def rank(items: list[RepoSummary], query: str) -> list[RepoSummary]:
    """Repositories matching every term of ``query`` (name or description), best first."""
    terms = query.lower().split()
    exact = query.strip().lower()

    def matches(item: RepoSummary) -> bool:
        haystack = f"{item.name} {item.display_name} {item.description}".lower()
        return all(term in haystack for term in terms)

    def key(item: RepoSummary) -> tuple:
        names = {item.name, item.display_name, item.name.rsplit("/", 1)[-1]}
        return (
            0 if exact in names else 1,
            -item.stars,
            0 if item.official else 1,
            item.display_name,
        )

    return sorted((i for i in items if matches(i)), key=key)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


async def search(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    query = request.query.get("q", "")
    page_size = min(max(_int(request.query.get("n"), DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE)
    page = max(_int(request.query.get("page"), 1), 1)
    identity = await state.access.optional_identity(request)
    found = rank(repositories(state, identity), query)
    start = (page - 1) * page_size
    return json_response(
        {
            "num_results": len(found),
            "num_pages": math.ceil(len(found) / page_size),
            "page": page,
            "page_size": page_size,
            "query": query,
            "results": [item.to_json() for item in found[start : start + page_size]],
        }
    )


async def signed_in(request: web.Request, state: RegistryState) -> Identity:
    """The signed-in caller (basic, bearer or web session); 401 otherwise."""
    identity = session_identity(request, state)
    if identity is None or identity.anonymous:
        identity = await state.access.optional_identity(request)
    if identity.anonymous:
        raise RegistryError(
            "UNAUTHORIZED",
            message="sign in to star repositories",
            headers={"WWW-Authenticate": f'Basic realm="{state.config.service}"'},
        )
    return identity


async def star(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    try:
        name = check_name(request.match_info["name"])
        identity = await signed_in(request, state)
        if summary(state, name) is None or not state.access.may_pull(identity, name):
            raise RegistryError("NAME_UNKNOWN", {"name": name})
        on = request.method != "DELETE"
        count = await asyncio.to_thread(state.access.accounts.star, name, identity.user, on)
    except RegistryError as error:
        return error_response(error)
    return json_response({"name": name, "starred": on, "star_count": count})


async def repository(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    try:
        name = check_name(request.match_info["name"])
        identity = await state.access.optional_identity(request)
        item = summary(state, name)
        if item is None or not state.access.may_pull(identity, name):
            raise RegistryError("NAME_UNKNOWN", {"name": name})
    except RegistryError as error:
        return error_response(error)
    data = item.to_json()
    data["full_name"] = item.name
    if identity.user:
        data["starred"] = state.access.accounts.starred(name, identity.user)
    return json_response(data)
