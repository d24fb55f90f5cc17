"""Web sign-in: a signed, short-lived session cookie (the token signer's JWT, no scopes)."""

from __future__ import annotations

from aiohttp import web

from dockyard.registry.access import Identity
from dockyard.registry.state import RegistryState

COOKIE = "dockyard_session"
SESSION_SECONDS = 12 * 3600


def session_identity(request: web.Request, state: RegistryState) -> Identity | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    claims = state.access.signer.verify(token)
    if not claims or claims.get("kind") != "session":
        return None
    user = state.access.accounts.get(str(claims.get("sub") or ""))
    return Identity(user.name, user.admin) if user else None


def start_session(
    response: web.StreamResponse, state: RegistryState, user: str, secure: bool
) -> None:
    token, _ = state.access.signer.issue(user, [], SESSION_SECONDS, extra={"kind": "session"})
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="Strict",
        secure=secure,
        path="/",
    )


def end_session(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")
