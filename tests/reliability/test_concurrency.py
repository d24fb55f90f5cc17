"""Concurrency, a fixed subset: 4 CLI clients x 12 mixed operations on one store,
pulling from a local registry. The full run is
``python -m tests.reliability.concurrency --full`` (8 x 200)."""

from __future__ import annotations

from pathlib import Path

from .concurrency import run_clients
from .registryfixture import seeded_registry


def test_four_clients_share_one_store(tmp_path: Path) -> None:
    registry = seeded_registry(tmp_path / "registry")
    try:
        problems, counts, _elapsed = run_clients(
            tmp_path, 4, 12, seed=20261128, registry=registry.host
        )
    finally:
        registry.stop()
    assert not problems, "\n".join(problems)
    assert sum(counts.values()) >= 48


def test_registry_gc_beside_pushers_and_pullers(tmp_path: Path) -> None:
    from .gcconcurrency import run_gc_concurrency

    problems, pushes, _gc_runs = run_gc_concurrency(tmp_path, 3, 2)
    assert not problems, "\n".join(problems)
    assert pushes == 6
