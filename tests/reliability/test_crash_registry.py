"""Registry crash safety, a fixed subset: one server kill during a push, one kill of
`registry gc`. The full run is ``python -m tests.reliability.crash_registry --full``."""

from __future__ import annotations

from pathlib import Path

from .crash_registry import gc_trial, push_trial


def test_server_killed_during_a_push(tmp_path: Path) -> None:
    trial = push_trial(tmp_path, 0.6, 1)
    assert not trial.problems, "\n".join(trial.problems)


def test_gc_killed_midway(tmp_path: Path) -> None:
    trial = gc_trial(tmp_path, 1.0, 1)
    assert not trial.problems, "\n".join(trial.problems)
