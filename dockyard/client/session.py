"""One registry host over HTTP: endpoint discovery (HTTPS, then HTTP for insecure
registries, as Docker does), authentication (anonymous, Basic, Bearer tokens from the
challenge's realm with the scopes a request needs, reused until they expire) and one
retry after a 401.
"""

from __future__ import annotations

import base64
import errno
import functools
import ssl
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


def _import_aiohttp_without_its_tls_contexts() -> None:
    """aiohttp builds two TLS contexts when it is imported, loading the system's CA
    bundle twice (0.15-0.3 s here, most of a small pull's time, and paid by every pull,
    push, login and search against a loopback registry that never speaks TLS). Every
    request here passes its own context (``RegistrySession._ssl``), so the import skips
    loading them; anything else in the process relying on aiohttp's default verified
    context would fail verification (closed, never open)."""
    if "aiohttp" in sys.modules:
        return
    ssl.SSLContext.set_default_verify_paths = lambda self: None  # type: ignore[method-assign]
    try:
        import aiohttp  # noqa: F401
    finally:
        del ssl.SSLContext.set_default_verify_paths  # the C method again


_import_aiohttp_without_its_tls_contexts()
import aiohttp  # noqa: E402

from dockyard.client import credentials as creds  # noqa: E402
from dockyard.client.challenge import Challenge, pick_challenge  # noqa: E402
from dockyard.client.daemonconfig import DaemonConfig  # noqa: E402
from dockyard.client.errors import (  # noqa: E402
    RegistryError,
    Unauthorized,
    describe,
    from_response,
)

DOCKER_HUB_REGISTRY = "registry-1.docker.io"
TOKEN_MIN_LIFETIME = 60
USER_AGENT = "dockyard/0.1.0"
_UNSET: Any = object()
FROM_CONFIG: Any = _UNSET  # credentials argument: read them from config.json


def new_http_session(connections: int = 16) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        read_bufsize=1 << 20,
        timeout=aiohttp.ClientTimeout(total=None, connect=30, sock_read=300),
        headers={"User-Agent": USER_AGENT},
    )


@functools.cache
def verified_tls_context() -> ssl.SSLContext:
    """The system's CAs, loaded on the first request to a registry that speaks TLS."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(("http/1.1",))
    return context


def registry_host(domain: str) -> str:
    """The host that serves a reference's domain (docker.io -> registry-1.docker.io)."""
    return DOCKER_HUB_REGISTRY if domain in creds.DOCKER_HUB_HOSTS else domain


def connection_error(method: str, url: str, error: BaseException) -> RegistryError:
    """Docker-like: 'Get "http://h/v2/": dial tcp h: connect: connection refused'."""
    reason = str(error) or type(error).__name__
    os_error = getattr(error, "os_error", None)
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", ())
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        reason = "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    elif isinstance(error, aiohttp.ClientSSLError) or "WRONG_VERSION_NUMBER" in reason:
        reason = "http: server gave HTTP response to HTTPS client"
    elif isinstance(error, aiohttp.ClientConnectorError) and os_error is not None:
        number = getattr(os_error, "errno", None)
        if number == errno.ECONNREFUSED:
            reason = f"dial tcp {error.host}:{error.port}: connect: connection refused"
        elif dns_error and isinstance(error, dns_error):
            reason = f"dial tcp: lookup {error.host}: no such host"
        else:
            reason = f"dial tcp {error.host}:{error.port}: {os_error.strerror or os_error}"
    elif isinstance(error, aiohttp.ServerDisconnectedError):
        reason = "connection closed by the server"
    elif isinstance(error, TimeoutError):
        reason = "timeout"
    return RegistryError(f'{method.capitalize()} "{url}": {reason}')


class RegistrySession:
    """Requests to one registry; ``endpoint`` is fixed by the first ping."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        host: str,
        config: DaemonConfig,
        credentials: creds.Credentials | None = _UNSET,
        endpoint: str | None = None,
    ) -> None:
        self.http = http
        self.host = host
        self.config = config
        self.insecure = config.is_insecure(host)
        self._credentials = credentials
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.challenge: Challenge | None = None
        self._pinged = False
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}

    @property
    def credentials(self) -> creds.Credentials | None:
        if self._credentials is _UNSET:
            self._credentials = creds.load(self.host)
        return self._credentials

    def _ssl(self) -> Any:
        return False if self.insecure else verified_tls_context()

    # ------------------------------------------------------------ endpoint and ping

    async def ping(self) -> None:
        """GET /v2/: pick the scheme and learn the authentication challenge."""
        if self._pinged:
            return
        candidates = [self.endpoint] if self.endpoint else [f"https://{self.host}"]
        if not self.endpoint and self.insecure:
            candidates.append(f"http://{self.host}")
        last: RegistryError | None = None
        for base in candidates:
            url = f"{base}/v2/"
            try:
                async with self.http.get(url, ssl=self._ssl(), allow_redirects=True) as response:
                    await response.read()
                    if response.status == 401:
                        self.challenge = pick_challenge(
                            response.headers.getall("WWW-Authenticate", [])
                        )
                    elif response.status >= 400 and response.status != 404:
                        raise RegistryError(
                            f'Get "{url}": {describe(response.status, response.reason or "", b"")}'
                        )
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                last = connection_error("GET", url, error)
                continue
            self.endpoint = base
            self._pinged = True
            return
        assert last is not None
        raise last

    # ------------------------------------------------------------ authentication

    def _basic_header(self) -> dict[str, str]:
        credentials = self.credentials
        if credentials is None or not credentials.username:
            return {}
        token = f"{credentials.username}:{credentials.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(token).decode()}

    async def _auth_headers(self, scopes: tuple[str, ...]) -> dict[str, str]:
        if self.challenge is None:
            return {}
        if self.challenge.scheme == "basic":
            return self._basic_header()
        if self.challenge.scheme != "bearer":
            return {}
        key = tuple(sorted(set(scopes)))
        cached = self._tokens.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return {"Authorization": f"Bearer {cached[0]}"}
        token, lifetime = await self.fetch_token(key)
        self._tokens[key] = (token, time.monotonic() + lifetime - 5)
        return {"Authorization": f"Bearer {token}"}

    async def fetch_token(self, scopes: tuple[str, ...]) -> tuple[str, int]:
        """A bearer token from the challenge's realm for the given scopes."""
        assert self.challenge is not None
        realm = self.challenge.realm
        if not realm:
            raise Unauthorized(f"{self.host}: bearer challenge without a realm")
        params: list[tuple[str, str]] = []
        if "service" in self.challenge.params:
            params.append(("service", self.challenge.params["service"]))
        params.extend(("scope", scope) for scope in scopes)
        credentials = self.credentials
        headers: dict[str, str] = {}
        if credentials is not None and credentials.identity_token:
            return await self._refresh_token(realm, scopes, credentials.identity_token)
        if credentials is not None and credentials.username:
            params.append(("account", credentials.username))
            headers = self._basic_header()
        return await self._token_request("GET", realm, params=params, headers=headers)

    async def _refresh_token(
        self, realm: str, scopes: tuple[str, ...], refresh: str
    ) -> tuple[str, int]:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "service": self.challenge.params.get("service", "") if self.challenge else "",
            "scope": " ".join(scopes),
            "client_id": "dockyard",
        }
        return await self._token_request("POST", realm, data=form)

    async def _token_request(self, method: str, realm: str, **options: Any) -> tuple[str, int]:
        try:
            async with self.http.request(method, realm, ssl=self._ssl(), **options) as response:
                body = await response.read()
                status, reason = response.status, response.reason or ""
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise connection_error(method, realm, error) from None
        if status != 200:
            raise _token_error(status, reason, body)
        return _parse_token(body)

    # ------------------------------------------------------------ requests

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        assert self.endpoint is not None
        return self.endpoint + path

    @asynccontextmanager
    async def request(
        self,
        method: str,
        path: str,
        *,
        scopes: tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
        data: Any = None,
        params: Any = None,
        allow_redirects: bool = True,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A request with authentication; retried once after a 401 when ``data`` can be
        sent again (bytes or None)."""
        await self.ping()
        url = self.url(path)
        for attempt in (0, 1):
            request_headers = dict(headers or {})
            request_headers.update(await self._auth_headers(scopes))
            try:
                response = await self.http.request(
                    method,
                    url,
                    headers=request_headers,
                    data=data,
                    params=params,
                    ssl=self._ssl(),
                    allow_redirects=allow_redirects,
                )
            except (aiohttp.ClientError, TimeoutError) as error:
                raise connection_error(method, url, error) from None
            if response.status == 401 and attempt == 0 and isinstance(data, (bytes, type(None))):
                challenge = pick_challenge(response.headers.getall("WWW-Authenticate", []))
                await response.read()
                response.release()
                if challenge is not None:
                    self.challenge = challenge
                self._tokens.pop(tuple(sorted(set(scopes))), None)
                continue
            try:
                yield response
            finally:
                response.release()
            return

    async def check(self, response: aiohttp.ClientResponse, prefix: str = "") -> None:
        """Raise the registry's error when the response is not a success."""
        if response.status < 400:
            return
        body = await response.read()
        raise from_response(response.status, response.reason or "", body, prefix)


def _token_error(status: int, reason: str, body: bytes) -> RegistryError:
    text = describe(status, reason, body)
    if text.startswith("received unexpected") or text.startswith("unauthorized: authentication"):
        import json

        try:
            document = json.loads(body)
            detail = document.get("details") or document.get("detail") or document.get("message")
        except (ValueError, AttributeError):
            detail = None
        if detail:
            text = f"unauthorized: {detail}" if status == 401 else str(detail)
        elif status == 401:
            text = "unauthorized: incorrect username or password"
    if status in (401, 403):
        return Unauthorized(text, status)
    return RegistryError(f"getting a token: {text}", status)


def _parse_token(body: bytes) -> tuple[str, int]:
    import json

    try:
        document = json.loads(body)
    except ValueError:
        raise Unauthorized("the token server answered with something that is not JSON") from None
    token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token:
        raise Unauthorized("the token server answered without a token")
    lifetime = document.get("expires_in")
    if not isinstance(lifetime, int) or lifetime < TOKEN_MIN_LIFETIME:
        lifetime = TOKEN_MIN_LIFETIME
    return token, lifetime
