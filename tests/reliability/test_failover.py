"""Failover through haproxy (2 nodes sharing a bucket on radosgw and PostgreSQL): 52 SIGKILLs
of a node during dockyard and skopeo pushes and pulls (13 each), then gc. The longer
run is ``python -m tests.reliability.failover --full`` (120 kill points)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.registry.cluster import deployment_backend, haproxy_available

from .failover import run_failover, summary

pytestmark = pytest.mark.skipif(not haproxy_available(), reason="haproxy is not installed")


def test_clients_get_through_while_nodes_are_killed(tmp_path: Path, request) -> None:
    backend = deployment_backend(request, tmp_path / "cluster")
    trials, after_gc = run_failover(tmp_path, 52, seed=20261207, backend=backend)
    killed = [trial for trial in trials if trial.node is not None]
    problems = [f"{t.kind} kill after {t.delay:.2f} s: {p}" for t in trials for p in t.problems]
    assert not problems + after_gc, "\n".join([*problems, *after_gc, *summary(trials)])
    assert len(killed) == 52
    # the kills land inside the commands (their times are fractions of a measured run, so
    # on a busy machine some land after a command that ran faster than the measured one)
    assert sum(trial.killed_during for trial in killed) >= len(killed) // 2, "\n".join(
        summary(trials)
    )
