"""Adapters from the API to the registry verbs (pull, push, search, login).

pull and push (engine.images) report progress through the small Events
interface; JsonEvents turns those reports into Docker's JSON messages.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from dockyard.client.login import authenticate
from dockyard.daemon.progress import progress_bar
from dockyard.engine import Engine

Emit = Callable[[dict[str, Any]], None]


class JsonEvents:
    """The registry client's Events as Docker's JSON progress messages."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit

    def line(self, text: str) -> None:
        self.emit({"status": text})

    def status(self, item: str, text: str) -> None:
        self.emit({"status": text, "progressDetail": {}, "id": item})

    def progress(self, item: str, action: str, current: int, total: int) -> None:
        self.emit(
            {
                "status": action,
                "progressDetail": {"current": current, "total": total},
                "progress": progress_bar(current, total),
                "id": item,
            }
        )

    # Docker's pull says "<tag>: Pulling from <repo>" with the tag as the item.
    def aux(self, data: dict[str, Any]) -> None:
        self.emit({"progressDetail": {}, "aux": data})


def decode_registry_auth(header: str | None) -> dict[str, Any] | None:
    """X-Registry-Auth: base64url JSON {username, password, serveraddress, identitytoken}."""
    if not header:
        return None
    padded = header + "=" * (-len(header) % 4)
    for decoder in (base64.urlsafe_b64decode, base64.b64decode):
        try:
            data = json.loads(decoder(padded))
        except (ValueError, TypeError):
            continue
        return data if isinstance(data, dict) and any(data.values()) else None
    return None


def pull(engine: Engine, name: str, emit: Emit, platform: str | None, auth: dict | None) -> list:
    return engine.images.pull(name, events=JsonEvents(emit), platform=platform or None, auth=auth)


def push(engine: Engine, name: str, emit: Emit, auth: dict | None) -> Any:
    return engine.images.push(name, events=JsonEvents(emit), auth=auth)


def search(
    engine: Engine,
    term: str,
    limit: int | None,
    filters: dict[str, list[str]],
    auth: dict | None,
) -> list:
    results = engine.images.search(
        term,
        limit=limit,
        filters=[f"{key}={value}" for key, values in filters.items() for value in values],
        auth=auth,
    )
    items = [_search_item(item) for item in results]
    return [item for item in items if _search_matches(item, filters)]


def _search_item(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        data = item
    else:
        data = {k: getattr(item, k) for k in dir(item) if not k.startswith("_")}
    return {
        "star_count": int(data.get("star_count", data.get("stars", 0)) or 0),
        "is_official": bool(data.get("is_official", data.get("official", False))),
        "name": data.get("name", ""),
        "is_automated": bool(data.get("is_automated", data.get("automated", False))),
        "description": data.get("description", "") or "",
    }


def _search_matches(item: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for value in filters.get("stars", []):
        if item["star_count"] < int(value or 0):
            return False
    for value in filters.get("is-official", []):
        if item["is_official"] != (value.lower() in ("1", "true")):
            return False
    for value in filters.get("is-automated", []):
        if item["is_automated"] != (value.lower() in ("1", "true")):
            return False
    return True


def login(body: dict[str, Any]) -> dict[str, Any]:
    """POST /auth: check the credentials (the docker client stores them itself)."""
    result = authenticate(
        body.get("serveraddress") or None,
        body.get("username") or "",
        body.get("password") or "",
    )
    return {"Status": "Login Succeeded", "IdentityToken": result.identity_token or ""}
