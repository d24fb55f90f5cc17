"""Who is asking (basic or bearer credentials) and what they may do.

With no account configured the registry is open, as the CNCF registry without auth.
Once an account exists:

- admins may do everything;
- a user may pull, push and delete in their own namespace (``USER/...``) and do
  what a grant gives them (``registry repo grant``);
- anyone signed in may pull a public repository; anonymous clients too unless
  anonymous pull is switched off; private repositories only by owner, grantees, admins;
- no credentials, bad credentials, or a token without the needed scope get 401 with a
  ``Bearer`` challenge; valid credentials without the permission get 403 DENIED.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import time
from dataclasses import dataclass, field

from aiohttp import web

from dockyard.registry.accounts import ACTIONS, Accounts
from dockyard.registry.clientaddr import ClientAddress
from dockyard.registry.config import RegistryConfig
from dockyard.registry.errors import RegistryError
from dockyard.registry.metadata import Metadata
from dockyard.registry.passwords import verify_password
from dockyard.registry.ratelimit import FailureLimiter
from dockyard.registry.tokens import TokenSigner, load_key

OPEN_CACHE_SECONDS = 1.0
BASIC_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Identity:
    user: str | None = None  # None: anonymous
    admin: bool = False
    token: dict[str, frozenset[str]] | None = field(default=None)  # scopes of a bearer token

    @property
    def anonymous(self) -> bool:
        return self.user is None


ANONYMOUS = Identity()
EVERYONE = Identity(user=None, admin=True)  # open registry: no accounts configured


class Access:
    def __init__(self, meta: Metadata, config: RegistryConfig) -> None:
        self.config = config
        self.accounts = Accounts(meta)
        self.signer = TokenSigner(load_key(meta, config.storage), config.service)
        self._open_checked = 0.0
        self._open = True
        self._basic: dict[str, tuple[float, str, str, bool]] = {}
        self.failures = FailureLimiter(meta)
        self.client_address = ClientAddress(config.trusted_proxies)

    # -- who -------------------------------------------------------------------------

    def is_open(self) -> bool:
        now = time.monotonic()
        if now - self._open_checked > OPEN_CACHE_SECONDS:
            self._open = not self.accounts.has_users()
            self._open_checked = now
        return self._open

    async def check_password(
        self, name: str, password: str, client: str | None = None
    ) -> Identity | None:
        """The account if the password is right; None otherwise. A client address with
        too many recent failures gets TOOMANYREQUESTS without a check."""
        client = client or "-"
        if self.failures.blocked(client):
            raise RegistryError(
                "TOOMANYREQUESTS", message="too many failed sign-ins, wait a minute"
            )
        key = hashlib.sha256(f"{name}\0{password}".encode()).hexdigest()
        user = self.accounts.get(name)
        if user is None:
            self.failures.failed(client)
            return None
        cached = self._basic.get(key)
        if cached and cached[0] > time.monotonic() and cached[2] == user.password:
            return Identity(user.name, user.admin)
        if not await asyncio.to_thread(verify_password, password, user.password):
            self.failures.failed(client)
            return None
        if len(self._basic) > 10000:
            self._basic.clear()
        self._basic[key] = (time.monotonic() + BASIC_CACHE_SECONDS, name, user.password, user.admin)
        return Identity(user.name, user.admin)

    async def basic_identity(self, value: str, client: str | None = None) -> Identity | None:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        name, sep, password = decoded.partition(":")
        if not sep:
            return None
        return await self.check_password(name, password, client)

    def bearer_identity(self, value: str) -> Identity | None:
        claims = self.signer.verify(value)
        if claims is None or "kind" in claims:
            return None
        scopes: dict[str, frozenset[str]] = {}
        for entry in claims.get("access") or []:
            if isinstance(entry, dict) and entry.get("type") == "repository":
                name = entry.get("name")
                actions = entry.get("actions") or []
                if isinstance(name, str) and isinstance(actions, list):
                    scopes[name] = scopes.get(name, frozenset()) | frozenset(map(str, actions))
        subject = claims.get("sub") or None
        if subject is None:
            return Identity(None, False, scopes)
        user = self.accounts.get(subject)
        if user is None:
            return None
        return Identity(user.name, user.admin, scopes)

    async def identify(self, request: web.Request) -> Identity:
        """The caller; raises 401 for credentials that do not check out."""
        header = request.headers.get("Authorization")
        if not header:
            return ANONYMOUS
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        identity: Identity | None = None
        if scheme == "basic":
            identity = await self.basic_identity(value.strip(), self.client_address.of(request))
        elif scheme == "bearer":
            identity = self.bearer_identity(value.strip())
        if identity is None:
            raise self.challenge(
                request, None, None, error="invalid_token" if scheme == "bearer" else None
            )
        return identity

    # -- what -------------------------------------------------------------------------

    def permitted(self, identity: Identity, repo: str, action: str) -> bool:
        if self.is_open() or identity.admin:
            return True
        user = identity.user
        if user is not None:
            if repo.startswith(user + "/"):
                return True
            if action in self.accounts.granted(repo, user):
                return True
        if action == "pull" and not self.accounts.is_private(repo):
            return user is not None or self.config.anonymous_pull
        return False

    def realm(self, request: web.Request) -> str:
        return self.config.realm or f"{request.scheme}://{request.host}/token"

    def challenge(
        self,
        request: web.Request,
        repo: str | None,
        action: str | None,
        error: str | None = None,
    ) -> RegistryError:
        parts = [f'realm="{self.realm(request)}"', f'service="{self.config.service}"']
        detail = None
        if repo is not None and action is not None:
            actions = "pull,push" if action == "push" else action
            parts.append(f'scope="repository:{repo}:{actions}"')
            detail = [{"Type": "repository", "Class": "", "Name": repo, "Action": action}]
        if error:
            parts.append(f'error="{error}"')
        return RegistryError(
            "UNAUTHORIZED", detail, headers={"WWW-Authenticate": "Bearer " + ",".join(parts)}
        )

    async def authorize(self, request: web.Request, repo: str, action: str) -> Identity:
        """The caller if they may do ``action`` on ``repo``; else 401 or 403."""
        if self.is_open():
            return EVERYONE
        identity = await self.identify(request)
        allowed = self.permitted(identity, repo, action)
        if identity.token is not None and action not in identity.token.get(repo, ()):
            if allowed or identity.anonymous:
                raise self.challenge(request, repo, action, error="insufficient_scope")
            raise RegistryError("DENIED", {"name": repo, "action": action})
        if allowed:
            return identity
        if identity.anonymous:
            raise self.challenge(request, repo, action)
        raise RegistryError("DENIED", {"name": repo, "action": action})

    async def authorize_ping(self, request: web.Request) -> Identity:
        """``GET /v2/``: with accounts, clients must authenticate (or hold a token)."""
        if self.is_open():
            return EVERYONE
        identity = await self.identify(request)
        if identity.anonymous and identity.token is None:
            raise self.challenge(request, None, None)
        return identity

    async def optional_identity(self, request: web.Request) -> Identity:
        if self.is_open():
            return EVERYONE
        try:
            return await self.identify(request)
        except RegistryError:
            return ANONYMOUS

    def may_pull(self, identity: Identity, repo: str) -> bool:
        """For listings: pull permission, honouring a bearer token's scopes loosely."""
        return self.permitted(identity, repo, "pull")

    # -- tokens -----------------------------------------------------------------------

    def grant_scopes(self, identity: Identity, scopes: list[str]) -> list[dict]:
        access: dict[tuple[str, str], set[str]] = {}
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) != 3:
                continue
            kind, name, actions_text = parts
            kind = kind.split("(")[0]
            wanted = set(actions_text.split(",")) if actions_text else set()
            if "*" in wanted:
                wanted = set(ACTIONS)
            if kind == "repository":
                given = {a for a in wanted if a in ACTIONS and self.permitted(identity, name, a)}
            elif kind == "registry" and name == "catalog":
                given = {"*"} if identity.admin or self.is_open() else set()
            else:
                continue
            access.setdefault((kind, name), set()).update(given)
        return [
            {"type": kind, "name": name, "actions": sorted(actions)}
            for (kind, name), actions in access.items()
        ]
