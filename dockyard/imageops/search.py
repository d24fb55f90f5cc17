"""`search`: Docker Hub's search API (``GET /v1/search?q=TERM&n=LIMIT``) on the default
index, or on the registry named in ``REGISTRY/TERM``; filters applied as Docker does."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from dockyard.client.daemonconfig import DaemonConfig, load_daemon_config
from dockyard.client.errors import RegistryError
from dockyard.errors import InvalidArgument

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


@dataclass(frozen=True)
class SearchResult:
    name: str
    description: str
    star_count: int
    is_official: bool
    is_automated: bool


@dataclass(frozen=True)
class SearchFilters:
    stars: int = 0
    is_official: bool | None = None
    is_automated: bool | None = None

    def keep(self, result: SearchResult) -> bool:
        if result.star_count < self.stars:
            return False
        if self.is_official is not None and result.is_official != self.is_official:
            return False
        return self.is_automated is None or result.is_automated == self.is_automated


def parse_filters(values: list[str]) -> SearchFilters:
    stars, official, automated = 0, None, None
    for value in values:
        key, sep, text = value.partition("=")
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {value}")
        if key == "stars":
            try:
                stars = max(stars, int(text))
            except ValueError:
                raise InvalidArgument(f"invalid filter 'stars={text}'") from None
        elif key in ("is-official", "is-automated"):
            if text.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid filter '{key}={text}'")
            flag = text.lower() in ("true", "1")
            if key == "is-official":
                official = flag
            else:
                automated = flag
        else:
            raise InvalidArgument(f"invalid filter '{key}'")
    return SearchFilters(stars, official, automated)


def split_term(term: str) -> tuple[str | None, str]:
    """('127.0.0.1:5000', 'busybox') for '127.0.0.1:5000/busybox'; (None, term) else."""
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, term


def _result(item: object) -> SearchResult | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    stars = item.get("star_count")
    return SearchResult(
        item["name"],
        str(item.get("description") or ""),
        stars if isinstance(stars, int) and not isinstance(stars, bool) else 0,
        bool(item.get("is_official")),
        bool(item.get("is_automated")),
    )


async def _query(
    host: str, endpoint: str | None, term: str, limit: int, config: DaemonConfig, auth: dict | None
):  # type: ignore[no-untyped-def]
    from dockyard.client import credentials
    from dockyard.client.session import FROM_CONFIG, RegistrySession, new_http_session

    given = credentials.from_auth_config(auth) if auth else FROM_CONFIG
    async with new_http_session() as http:
        session = RegistrySession(http, host, config, credentials=given, endpoint=endpoint)
        async with session.request(
            "GET",
            "/v1/search",
            params={"q": term, "n": str(limit)},
            scopes=("registry:catalog:search",),
        ) as response:
            await session.check(response, prefix=f"{host}: ")
            body = await response.read()
    try:
        document = json.loads(body)
    except ValueError:
        raise RegistryError(f"{host}: the search answer is not JSON") from None
    items = document.get("results") if isinstance(document, dict) else None
    return [r for r in (_result(i) for i in (items or [])) if r is not None]


def search(
    term: str,
    limit: int = DEFAULT_LIMIT,
    filters: list[str] | None = None,
    config: DaemonConfig | None = None,
    auth: dict | None = None,
) -> list[SearchResult]:
    """Search an index. ``auth``: an Engine API AuthConfig used instead of config.json."""
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidArgument(f"limit {limit} is outside the range of [1, {MAX_LIMIT}]")
    chosen = parse_filters(filters or [])
    config = config or load_daemon_config()
    index, remote = split_term(term)
    if index is None:
        endpoint = config.index_server
        host = urlsplit(endpoint).netloc
    else:
        host, endpoint = index, None
    results = asyncio.run(_query(host, endpoint, remote, limit, config, auth))
    return [r for r in results if chosen.keep(r)]
