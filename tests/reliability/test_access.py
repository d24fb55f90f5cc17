"""The registry's access matrix (390 cells): the same run as
``python -m tests.reliability.access``."""

from __future__ import annotations

from pathlib import Path

from .access import run_matrix


def test_access_matrix(tmp_path: Path) -> None:
    cells, wrong = run_matrix(tmp_path)
    assert not wrong, "\n".join(wrong)
    assert cells >= 390
