"""docs/python-api.md's example runs as written (a real store, busybox, a real runtime)
and prints what the page says it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.containers.support import NEEDS_RUNTIME, dockyard_mounts

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"

pytestmark = NEEDS_RUNTIME


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.M | re.S)


def test_the_example_runs_and_prints_what_the_page_shows(tmp_path: Path, busybox_tar: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    example = next(block for block in _blocks(text, "python") if "engine.containers.run" in block)
    (expected,) = _blocks(text, "text")
    (tmp_path / "busybox.tar").symlink_to(busybox_tar)
    root = tmp_path / "store"
    result = subprocess.run(
        [sys.executable, "-c", example],
        cwd=tmp_path,
        env=dict(os.environ, DOCKYARD_ROOT=str(root)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    assert os.listdir(root / "containers") == []
    assert dockyard_mounts(root) == []
