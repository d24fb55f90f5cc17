"""Shared fixtures: stores in temp dirs, the base image tarballs, running the real CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.clirunner import Cli


@pytest.fixture(scope="session")
def busybox_tar() -> Path:
    from dockyard.devtools.baseimages import ensure_base_image

    return ensure_base_image("busybox")


@pytest.fixture(scope="session")
def debian_tar() -> Path:
    from dockyard.devtools.baseimages import ensure_base_image

    return ensure_base_image("debian")


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def engine(store_root: Path):  # type: ignore[no-untyped-def]
    from dockyard import Engine

    engine = Engine(store_root)
    yield engine
    engine.close()


@pytest.fixture
def cli(store_root: Path, tmp_path: Path) -> Cli:
    return Cli(store_root, tmp_path)


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the whole session (tests/pgserver.py); tests get
    their own database from ``postgres.create_database()``."""
    from tests.pgserver import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer().start()
    except PostgresUnavailable as error:
        sys.stderr.write(f"\n*** SKIPPING POSTGRESQL TESTS: {error} ***\n")
        pytest.skip(str(error))
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres) -> str:
    """A fresh, empty database of the session's PostgreSQL server."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture(scope="session")
def ceph():
    """A throwaway single-node Ceph cluster with radosgw for the whole session
    (tests/cephserver.py); its S3 keys are in this process's environment meanwhile, so
    registry processes started by tests find them. Tests take buckets of their own
    (``s3_storage``)."""
    from tests.cephserver import CephUnavailable, start_cluster

    try:
        cluster = start_cluster()
    except CephUnavailable as error:
        sys.stderr.write(f"\n*** SKIPPING CEPH/S3 TESTS: {error} ***\n")
        pytest.skip(str(error))
    saved = {name: os.environ.get(name) for name in cluster.env()}
    os.environ.update(cluster.env())
    yield cluster
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    cluster.stop()


@pytest.fixture
def s3_storage(ceph) -> str:
    """``--storage`` of a fresh bucket (created by the registry) on the session's radosgw."""
    import uuid

    return f"s3://t-{uuid.uuid4().hex[:12]}?endpoint={ceph.endpoint}"
