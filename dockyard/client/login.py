"""`login`: check credentials against a registry (Basic, or a bearer token from the
challenge's realm) the way Docker's client does, before they are stored."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.client import credentials as creds
from dockyard.client.daemonconfig import DaemonConfig
from dockyard.client.errors import RegistryError, Unauthorized

DEFAULT_SERVER = creds.DOCKER_HUB_KEY


def server_host(server: str | None) -> str:
    """'127.0.0.1:5000' from '127.0.0.1:5000', 'http://127.0.0.1:5000/v2/'; docker.io
    for Docker Hub (its config key is https://index.docker.io/v1/)."""
    if not server:
        return "docker.io"
    host = server
    for scheme in ("http://", "https://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0]
    return "docker.io" if host in creds.DOCKER_HUB_HOSTS else host


async def verify(host: str, credentials: creds.Credentials, config: DaemonConfig) -> None:
    """Raise Unauthorized (with the registry's words) unless the credentials work."""
    from dockyard.client.session import RegistrySession, new_http_session, registry_host

    async with new_http_session() as http:
        session = RegistrySession(http, registry_host(host), config, credentials=credentials)
        await session.ping()
        challenge = session.challenge
        url = session.url("/v2/")
        if challenge is None:
            return  # the registry asks for no authentication
        if challenge.scheme == "bearer":
            try:
                await session.fetch_token(())
            except Unauthorized as error:
                raise Unauthorized(f'Get "{url}": {error}', error.status) from None
            return
        async with session.request("GET", "/v2/") as response:
            await response.read()
            if response.status >= 400:
                raise Unauthorized(
                    f"login attempt to {url} failed with status: {response.status}"
                    f" {response.reason or ''}".rstrip(),
                    response.status,
                )


@dataclass(frozen=True)
class LoginResult:
    config_file: str | None  # where the credentials were stored (None: not stored)
    key: str  # the config.json key they are filed under
    unencrypted: bool
    identity_token: str = ""


def authenticate(
    server: str | None, username: str, password: str, config: DaemonConfig | None = None
) -> LoginResult:
    """Check the credentials against the registry without storing them (the Engine
    API's POST /auth does this: the docker client stores them itself)."""
    import asyncio

    from dockyard.client.daemonconfig import load_daemon_config

    host = server_host(server)
    if not username:
        raise RegistryError("Error: Non-null Username Required")
    asyncio.run(verify(host, creds.Credentials(username, password), config or load_daemon_config()))
    return LoginResult(None, creds.auth_key(host), False)


def login(
    server: str | None, username: str, password: str, config: DaemonConfig | None = None
) -> LoginResult:
    """Verify, then store in config.json (or its credential helper)."""
    checked = authenticate(server, username, password, config)
    path, unencrypted = creds.save(server_host(server), creds.Credentials(username, password))
    return LoginResult(str(path), checked.key, unencrypted)


def logout(server: str | None) -> str:
    """Forget the credentials; returns the key they were filed under."""
    host = server_host(server)
    creds.erase(host)
    return creds.auth_key(host)
