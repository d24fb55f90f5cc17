"""Fixtures of the registry client tests: a CNCF registry, an in-process faulty registry,
the docker/dockyard config files in the test's own directory."""

from __future__ import annotations

import pytest

from tests.client.registries import FaultyRegistry, start_cncf_registry, stop_process


@pytest.fixture(scope="module")
def cncf(tmp_path_factory):  # type: ignore[no-untyped-def]
    registry = start_cncf_registry(tmp_path_factory.mktemp("cncf"))
    yield registry
    stop_process(registry.process)


@pytest.fixture
def client_env(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """DOCKER_CONFIG and DOCKYARD_CONFIG in the test's own directory."""
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    daemon_json = tmp_path / "daemon.json"
    daemon_json.write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    monkeypatch.setenv("DOCKYARD_CONFIG", str(daemon_json))
    return tmp_path


@pytest.fixture
def faulty():  # type: ignore[no-untyped-def]
    server = FaultyRegistry().start()
    yield server
    server.stop()
