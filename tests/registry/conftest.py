"""Fixtures: a real registry process on a free loopback port, and an aiohttp client."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from tests.processes import free_port, start_registry_process, stop_process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy
    body: bytes

    def json(self):
        import json

        return json.loads(self.body)

    @property
    def codes(self) -> list[str]:
        return [e["code"] for e in self.json()["errors"]]


class Client:
    """A blocking face on aiohttp.ClientSession for sequential tests."""

    def __init__(self, base: str) -> None:
        self.base = base
        # The loop runs in its own thread, so the client also works beside other event
        # loops of the test's thread (Playwright's sync API keeps one running).
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.session = self._run(self._session())

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(auto_decompress=False)

    def request(self, method: str, path: str, data=None, headers=None, auth=None) -> Reply:
        """``auth``: (user, password) for HTTP basic, or a bearer token string."""
        headers = dict(headers or {})
        if isinstance(auth, tuple):
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        elif isinstance(auth, str):
            headers["Authorization"] = f"Bearer {auth}"

        async def go() -> Reply:
            url = path if path.startswith("http") else self.base + path
            async with self.session.request(
                method,
                url,
                data=data,
                headers=headers,
                allow_redirects=False,
                skip_auto_headers=["Content-Type"],
            ) as response:
                return Reply(response.status, response.headers, await response.read())

        return self._run(go())

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def head(self, path: str, **kw) -> Reply:
        return self.request("HEAD", path, **kw)

    def put(self, path: str, **kw) -> Reply:
        return self.request("PUT", path, **kw)

    def post(self, path: str, **kw) -> Reply:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw) -> Reply:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw) -> Reply:
        return self.request("DELETE", path, **kw)

    def close(self) -> None:
        self._run(self.session.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


@dataclass
class Registry:
    port: int
    storage: str
    process: subprocess.Popen
    extra: list[str] = field(default_factory=list)
    metadata: str | None = None  # None: SQLite in the storage directory

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "dockyard.cli.main",
                "registry",
                *args,
                "--storage",
                self.storage,
            ],
            cwd=ROOT,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )


def start_registry(storage: str, *extra: str, log_dir: str | None = None) -> Registry:
    """``log_dir``: where the log goes (default: beside a storage directory)."""
    port = free_port()
    log_dir = log_dir or os.path.dirname(storage)
    with open(os.path.join(log_dir, f"registry-{port}.log"), "wb") as log:
        process = start_registry_process(port, storage, extra, log)
    return Registry(port, storage, process, list(extra))


def stop_registry(process: subprocess.Popen) -> None:
    stop_process(process, signal.SIGINT)


# Every test that uses ``registry`` or ``auth_registry`` runs twice: against one process
# (the single-node default) and against a cluster (nodes sharing storage and metadata,
# haproxy in front), started once per session and emptied between tests.
DEPLOYMENTS = ["single", "cluster"]


@pytest.fixture(scope="session")
def registry_cluster(request, tmp_path_factory):
    from tests.registry.cluster import Cluster, deployment_backend, haproxy_available

    if not haproxy_available():
        pytest.skip("haproxy is not installed (scripts/install.sh installs it)")
    directory = tmp_path_factory.mktemp("cluster")
    # the single-node runs use SQLite and a directory; the cluster's nodes share a
    # PostgreSQL database and a bucket on radosgw, so every test of the suite runs
    # against both metadata backends and both storage drivers
    cluster = Cluster(directory, deployment_backend(request, directory), nodes=2).start()
    yield cluster
    cluster.stop()


def emptied_cluster(request, users: dict[str, str]):
    """The session's cluster with nothing in it but ``users`` (root is an admin)."""
    cluster = request.getfixturevalue("registry_cluster")
    cluster.reset()
    for name, password in users.items():
        extra = ["--admin"] if name == "root" else []
        result = cluster.cli("user", "add", name, "--password-stdin", *extra, input=password + "\n")
        assert result.returncode == 0, result.stderr
    cluster.wait_until_every_node_sees(401 if users else 200)
    return cluster


@pytest.fixture(params=DEPLOYMENTS)
def registry(request, tmp_path):
    if request.param == "cluster":
        yield emptied_cluster(request, {})
        return
    server = start_registry(str(tmp_path / "storage"))
    yield server
    stop_registry(server.process)


@pytest.fixture
def client(registry):
    session = Client(registry.url)
    yield session
    session.close()


def registry_cli(storage: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "registry", *args, "--storage", storage],
        cwd=ROOT,
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
    )


USERS = {"alice": "alice-pw", "bob": "bob-pw", "root": "root-pw"}


@pytest.fixture(params=DEPLOYMENTS)
def auth_registry(request, tmp_path):
    """A registry with accounts: alice and bob (users), root (admin)."""
    if request.param == "cluster":
        yield emptied_cluster(request, USERS)
        return
    storage = str(tmp_path / "auth-storage")
    for name, password in USERS.items():
        extra = ["--admin"] if name == "root" else []
        result = registry_cli(
            storage, "user", "add", name, "--password-stdin", *extra, input=password + "\n"
        )
        assert result.returncode == 0, result.stderr
    server = start_registry(storage)
    yield server
    stop_registry(server.process)


@pytest.fixture
def auth_client(auth_registry):
    session = Client(auth_registry.url)
    yield session
    session.close()
