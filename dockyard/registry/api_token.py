"""The token endpoint of Docker's token flow: ``GET /token?service=&scope=...``.

Credentials come as HTTP basic (or an OAuth2 password grant by POST); no credentials
get an anonymous token. The token grants, for each requested scope, the actions the
caller is allowed; a request for more is not an error (the registry answers 403 later).
"""

from __future__ import annotations

import time

from aiohttp import web

from dockyard.registry.access import ANONYMOUS, Identity
from dockyard.registry.api import error_response, json_response
from dockyard.registry.errors import RegistryError
from dockyard.registry.state import state_of


def _unauthorized(service: str) -> web.Response:
    return error_response(
        RegistryError(
            "UNAUTHORIZED",
            message="invalid username or password",
            headers={"WWW-Authenticate": f'Basic realm="{service}"'},
        )
    )


def _scopes(values: list[str]) -> list[str]:
    return [scope for value in values for scope in value.split()]


async def token(request: web.Request) -> web.StreamResponse:
    try:
        return await _token(request)
    except RegistryError as error:
        return error_response(error)


async def _token(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    access = state.access
    identity: Identity | None = ANONYMOUS
    scopes = _scopes(request.query.getall("scope", []))
    header = request.headers.get("Authorization", "")
    client = access.client_address.of(request)
    if request.method == "POST":
        form = await request.post()
        scopes += _scopes([str(v) for v in form.getall("scope", [])])
        if form.get("grant_type") == "password":
            identity = await access.check_password(
                str(form.get("username", "")), str(form.get("password", "")), client
            )
    if header.lower().startswith("basic "):
        identity = await access.basic_identity(header[6:].strip(), client)
    if identity is None:
        return _unauthorized(state.config.service)
    ttl = state.config.token_ttl
    granted = access.grant_scopes(identity, scopes)
    signed, issued = access.signer.issue(identity.user or "", granted, ttl)
    return json_response(
        {
            "token": signed,
            "access_token": signed,
            "expires_in": ttl,
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(issued)),
        }
    )
