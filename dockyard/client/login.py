"""`login`: check credentials against a registry (Basic, or a bearer token from the
challenge's realm) the way Docker's client does, before they are stored."""

from __future__ import annotations

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


def login(
    server: str | None, username: str, password: str, config: DaemonConfig
) -> tuple[str, str, bool]:
    """Verify and store; returns (config file, key, stored unencrypted)."""
    import asyncio

    host = server_host(server)
    if not username:
        raise RegistryError("Error: Non-null Username Required")
    credentials = creds.Credentials(username, password)
    asyncio.run(verify(host, credentials, config))
    path, unencrypted = creds.save(host, credentials)
    return str(path), creds.auth_key(host), unencrypted


def logout(server: str | None) -> str:
    """Forget the credentials; returns the key they were filed under."""
    host = server_host(server)
    creds.erase(host)
    return creds.auth_key(host)
