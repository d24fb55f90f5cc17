"""Crash safety, a fixed subset: one kill point per kind of operation.

The full run (every traced point and random kills) is
``python -m tests.reliability.crash --full``.
"""

from __future__ import annotations

import pytest

from .crash import Workspace, run_trial
from .scenarios import SCENARIOS

SUBSET = [
    ("import", "layer.after-rename:1"),
    ("load", "blob.before-rename:3"),
    ("load", "db.after-commit:4"),
    ("tag", "db.before-commit:1"),
    ("rmi", "rmi.after-commit:1"),
    ("rmi-two", "release.layer-removed:2"),
    ("prune", "db.after-commit:1"),
    ("commit", "layer.extracted:1"),
    ("commit", "after:0.4"),
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("crash"))


@pytest.mark.parametrize(("scenario", "point"), SUBSET, ids=[f"{s}@{p}" for s, p in SUBSET])
def test_kill_point(workspace: Workspace, scenario: str, point: str) -> None:
    chosen = next(s for s in SCENARIOS if s.name == scenario)
    trial = run_trial(workspace, chosen, point)
    assert trial.ok, "\n".join(trial.problems)
    if not point.startswith("after:"):
        assert trial.killed, f"{point} was not reached"
