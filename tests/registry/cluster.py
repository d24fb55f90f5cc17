"""Many `dockyard registry serve` nodes as one registry, behind a real haproxy.

A ``Cluster`` is: a ``Backend`` (what the nodes share: a storage location and a metadata
database), N ``Node`` processes on loopback ports, and one haproxy (Debian's package)
in front, with health checks, retries and redispatch. Nodes are started, killed with
SIGKILL and restarted by their PID; ``stop`` ends exactly the processes started here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.devtools.registryserve import registry_serve_command
from tests.pgserver import KEPT_TABLES  # what survives a reset: the key, the schema
from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
# A test session killed outright (no fixture teardown) must not leave nodes and haproxy
# behind: each gets SIGTERM when the process that started it dies. setpriv execs the
# command, so the PID stays the one to kill.
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []


def haproxy_available() -> bool:
    return os.path.exists(HAPROXY)


def _status(url: str, timeout: float = 1.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@dataclass
class Backend:
    """What every node of one registry shares: storage and metadata (flags for serve/cli)."""

    storage: str
    metadata: str | None = None  # None: SQLite inside a storage directory
    env: dict[str, str] = field(default_factory=dict)
    reset_hook: Callable[[], None] | None = None  # empties storage and metadata
    service_pid: int | None = None  # the database server's main process (for CPU figures)

    def flags(self) -> list[str]:
        flags = ["--storage", self.storage]
        if self.metadata:
            flags += ["--metadata", self.metadata]
        return flags

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def driver(self):  # type: ignore[no-untyped-def]
        """The registry's own storage driver on the shared storage (to list what is kept)."""
        from dockyard.registry.storage import open_driver

        return open_driver(self.storage)

    def stored_blobs(self) -> set[str]:
        """Digests of every blob object in the storage."""
        found = set()
        for info in self.driver().walk("blobs"):
            parts = info.path.split("/")  # blobs/<algorithm>/<xx>/<hex>/data
            if len(parts) == 5 and parts[4] == "data":
                found.add(f"{parts[1]}:{parts[3]}")
        return found

    def stored_uploads(self) -> list[str]:
        return [info.path for info in self.driver().walk("uploads")]

    def reset(self) -> None:
        """Empty the registry (blobs, uploads, repositories, accounts); keep its keys."""
        if self.reset_hook is not None:
            self.reset_hook()
            return
        reset_shared_directory(Path(self.storage))


def reset_shared_directory(storage: Path) -> None:
    database = storage / "registry.db"
    connection = sqlite3.connect(database, timeout=60, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            if table not in KEPT_TABLES and not table.startswith("sqlite_"):
                connection.execute(f'DELETE FROM "{table}"')
        connection.execute("COMMIT")
    finally:
        connection.close()
    for entry in storage.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)


class Loopback:
    """Something listening on ``port`` of 127.0.0.1."""

    port: int

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"


class Node(Loopback):
    """One `dockyard registry serve` process of the cluster."""

    def __init__(self, name: str, backend: Backend, directory: Path, extra: list[str]) -> None:
        self.name = name
        self.backend = backend
        self.port = free_port()
        self.extra = extra
        self.log_path = directory / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self) -> None:
        """Start the process (same port every time) without waiting for it."""
        assert not self.alive(), f"{self.name} is running"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    *DIE_WITH_PARENT,
                    *registry_serve_command(self.host, *self.backend.flags(), *self.extra),
                ],
                cwd=ROOT,
                env=self.backend.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"node {self.name} exited while starting:\n{tail}")
            if _status(f"{self.url}/v2/", timeout=0.5) in (200, 401):
                return
            time.sleep(0.05)
        raise RuntimeError(f"node {self.name} did not become ready")

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown handler runs."""
        if self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.kill()
        self.start()


HAPROXY_CONFIG = """\
global
    maxconn 2000
    nbthread {threads}

defaults
    mode http
    log global
    timeout connect 2s
    timeout client 300s
    timeout server 300s
    timeout http-request 60s
    timeout check 2s
    # A request that found a dead node (refused connection, connection cut before a
    # response) is sent again to another node; haproxy can do that only for requests it
    # still holds whole (small bodies), so big blob uploads are retried by the client.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response 503
    option http-buffer-request
    option forwardfor

frontend registry
    bind 127.0.0.1:{port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /v2/
    http-check expect rstatus ^(200|401)$
    http-response set-header X-Dockyard-Node %[srv_name]
    default-server check inter 300ms fastinter 200ms downinter 300ms fall 2 rise 1 \
observe layer4 error-limit 1 on-error mark-down
{servers}
"""


class Balancer(Loopback):
    """haproxy in the foreground on a loopback port, its config written per session."""

    def __init__(self, directory: Path, nodes: list[Node], threads: int = 1) -> None:
        self.port = free_port()
        self.config_path = directory / "haproxy.cfg"
        self.log_path = directory / "haproxy.log"
        servers = "\n".join(f"    server {node.name} {node.host}" for node in nodes)
        self.config_path.write_text(
            HAPROXY_CONFIG.format(port=self.port, servers=servers, threads=threads)
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        check = subprocess.run(
            [HAPROXY, "-c", "-f", str(self.config_path)], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refuses its config: {check.stderr.strip()}")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*DIE_WITH_PARENT, HAPROXY, "-db", "-f", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log_path.read_text()[-1000:]}")
            if _status(f"{self.url}/v2/", timeout=0.5) in (200, 401):
                return
            time.sleep(0.05)
        raise RuntimeError("haproxy did not answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Cluster:
    """N nodes sharing one backend, haproxy in front. ``url``/``host`` are haproxy's."""

    def __init__(
        self,
        directory: Path,
        backend: Backend,
        nodes: int = 2,
        extra: list[str] | None = None,
        balancer_threads: int = 1,
        node_extra: dict[int, list[str]] | None = None,
    ) -> None:
        """``extra``: serve flags of every node; ``node_extra``: more flags for some."""
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.backend = backend
        # the nodes believe the balancer's X-Forwarded-For (it connects from loopback)
        flags = ["--trusted-proxies", "127.0.0.1", *(extra or [])]
        self.nodes = [
            Node(f"node{k}", backend, directory, [*flags, *(node_extra or {}).get(k, [])])
            for k in range(nodes)
        ]
        self.balancer = Balancer(directory, self.nodes, balancer_threads)

    # The face the registry tests use (the same as a single registry's).
    @property
    def url(self) -> str:
        return self.balancer.url

    @property
    def host(self) -> str:
        return self.balancer.host

    @property
    def metadata(self) -> str | None:
        return self.backend.metadata

    @property
    def storage(self) -> str:
        return self.backend.storage

    def start(self) -> Cluster:
        try:
            # The first node creates the schema and keys; the others start together.
            self.nodes[0].start()
            for node in self.nodes[1:]:
                node.launch()
            for node in self.nodes[1:]:
                node.wait_ready()
            self.balancer.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.balancer.stop()
        for node in self.nodes:
            node.stop()

    def pids(self) -> list[int]:
        pids = [node.pid for node in self.nodes if node.alive()]
        if self.balancer.process is not None and self.balancer.process.poll() is None:
            pids.append(self.balancer.process.pid)
        return pids

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        """`dockyard registry ARGS` against the shared backend (as an admin would run it)."""
        return subprocess.run(
            [sys.executable, "-m", "dockyard.cli.main", "registry", *args, *self.backend.flags()],
            cwd=ROOT,
            env=self.backend.environment(),
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def reset(self) -> None:
        for node in self.nodes:
            if not node.alive():
                node.start()
        self.backend.reset()

    def wait_until_every_node_sees(self, status: int, timeout: float = 15) -> None:
        """Until each node answers ``/v2/`` with ``status`` (200 open, 401 with accounts):
        nodes cache whether accounts exist for a moment."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while _status(f"{node.url}/v2/") != status:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{node.name} does not answer {status} on /v2/")
                time.sleep(0.05)

    def balancer_status(self) -> dict[str, str]:
        """Node name -> UP/DOWN as haproxy sees it (from its log of state changes)."""
        states = {node.name: "UP" for node in self.nodes}
        for line in self.balancer.log_path.read_text(errors="replace").splitlines():
            for name in states:
                if f"nodes/{name} is DOWN" in line:
                    states[name] = "DOWN"
                elif f"nodes/{name} is UP" in line:
                    states[name] = "UP"
        return states

    def describe(self) -> str:
        return json.dumps(
            {
                "balancer": self.url,
                "nodes": {node.name: node.url for node in self.nodes},
                "storage": self.backend.storage,
                "metadata": self.backend.metadata or "sqlite",
            }
        )


def shared_directory_backend(directory: Path) -> Backend:
    """N nodes on one machine sharing a storage directory and its SQLite database."""
    return Backend(storage=str(directory / "storage"))


def postgres_backend(directory: Path, postgres) -> Backend:
    """N nodes sharing a storage directory and a PostgreSQL database (of the session's
    throwaway server, tests/pgserver.py)."""
    storage = directory / "storage"
    url = postgres.create_database("cluster")

    def reset() -> None:
        postgres.reset_database(url)
        if storage.exists():
            for entry in storage.iterdir():
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)

    return Backend(
        storage=str(storage), metadata=url, reset_hook=reset, service_pid=postgres.process.pid
    )


@contextlib.contextmanager
def standalone_backend(directory: Path, kind: str) -> Iterator[Backend]:
    """For the suites run from a shell: ``kind`` "s3" (a throwaway Ceph with radosgw and
    a throwaway PostgreSQL, started here and stopped after), "postgresql" (a directory
    and PostgreSQL) or "sqlite" (a directory and its SQLite file)."""
    if kind == "sqlite":
        yield shared_directory_backend(directory)
        return
    from tests.pgserver import PostgresServer

    server = PostgresServer().start()
    try:
        if kind == "postgresql":
            yield postgres_backend(directory, server)
            return
        from tests.cephserver import start_cluster

        ceph = start_cluster()
        saved = dict(os.environ)
        os.environ.update(ceph.env())  # this process lists and empties the bucket too
        try:
            yield s3_backend(directory, ceph, server)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            ceph.stop()
    finally:
        server.stop()


def s3_backend(directory: Path, ceph, postgres) -> Backend:
    """N nodes sharing a bucket on the session's radosgw (tests/cephserver.py, fixture
    ``ceph``) and a PostgreSQL database: the deployment of docs/scale.md."""
    import uuid

    storage = f"s3://cluster-{uuid.uuid4().hex[:10]}?endpoint={ceph.endpoint}"
    url = postgres.create_database("cluster")

    def reset() -> None:
        postgres.reset_database(url)
        from dockyard.registry.storage import open_driver

        driver = open_driver(storage)
        try:
            for name in driver.list(""):
                driver.delete(name)
        finally:
            driver.close()

    return Backend(
        storage=storage,
        metadata=url,
        env=ceph.env(),
        reset_hook=reset,
        service_pid=postgres.process.pid,
    )


def deployment_backend(request, directory: Path) -> Backend:  # type: ignore[no-untyped-def]
    """What a test's cluster shares: a bucket on the session's radosgw and a PostgreSQL
    database (the deployment of docs/scale.md), or, where Ceph cannot be installed (the
    ``ceph`` fixture says so loudly), a directory and PostgreSQL."""
    import pytest

    postgres = request.getfixturevalue("postgres")
    try:
        ceph = request.getfixturevalue("ceph")
    except pytest.skip.Exception:
        return postgres_backend(directory, postgres)
    return s3_backend(directory, ceph, postgres)


def add_shared_option(parser: argparse.ArgumentParser) -> None:
    """``--shared KIND`` for ``standalone_backend`` (the suites' command lines)."""
    parser.add_argument(
        "--shared",
        choices=("s3", "postgresql", "sqlite"),
        default="s3",
        help="what the nodes share: a bucket on radosgw and PostgreSQL (default), a"
        " directory and PostgreSQL, or a directory and its SQLite file",
    )
