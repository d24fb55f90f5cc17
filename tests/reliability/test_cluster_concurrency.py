"""3 registry nodes (sharing a bucket on radosgw and PostgreSQL) x 8 clients pushing and pulling
overlapping images while node2 runs online gc. The longer run is
``python -m tests.reliability.clusterconcurrency --full``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.registry.cluster import deployment_backend, haproxy_available

from .clusterconcurrency import run_cluster_concurrency

pytestmark = pytest.mark.skipif(not haproxy_available(), reason="haproxy is not installed")


def test_three_nodes_eight_clients_each_beside_gc(tmp_path: Path, request) -> None:
    backend = deployment_backend(request, tmp_path / "cluster")
    problems, operations, (runs, manifests, blobs) = run_cluster_concurrency(
        tmp_path, 8, 3, backend
    )
    assert not problems, "\n".join(problems)
    # 24 clients x 3 rounds x (2 pushes + 1 pull of a pool image pushed just before)
    assert operations == 24 * 3 * 3
    # gc ran during the clients' work and took the overwritten images away meanwhile
    assert runs >= 2 and manifests > 0 and blobs > 0
