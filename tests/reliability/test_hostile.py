"""Hostile input, a fixed subset of ``python -m tests.reliability.hostile --full``:
every cp and registry-endpoint case, and a few lying-registry pulls."""

from __future__ import annotations

from pathlib import Path

import pytest

from .hostile import run_cp_cases, run_pull_cases, run_reference_cases, run_registry_cases

PULL_SUBSET = [
    "by-digest-wrong-bytes",
    "layer-wrong-bytes",
    "diff-ids-do-not-match",
    "manifest-nested-100k-deep",
    "layer-dotdot",
    "symlink-escape-across-two-layers",
    "tags-list-not-json",
]


@pytest.mark.parametrize(
    "area",
    [run_cp_cases, run_registry_cases, run_pull_cases, run_reference_cases],
    ids=["cp", "registry", "pull", "reference"],
)
def test_hostile_area(tmp_path: Path, area) -> None:  # type: ignore[no-untyped-def]
    names = PULL_SUBSET if area is run_pull_cases else None
    verdicts = area(tmp_path, names)
    failed = [f"{v.case}: {'; '.join(v.problems)}" for v in verdicts if v.problems]
    assert not failed, "\n".join(failed)
    assert len(verdicts) >= (len(PULL_SUBSET) if names else 10)
