"""Fixtures of the places tests: dockyard's own registry on loopback (once per module)."""

from __future__ import annotations

import pytest

from tests.client.registries import start_dockyard_registry, stop_process


@pytest.fixture(scope="module")
def dockyard_registry(tmp_path_factory):  # type: ignore[no-untyped-def]
    registry = start_dockyard_registry(tmp_path_factory.mktemp("registry") / "storage")
    yield registry
    stop_process(registry.process)
