"""schemathesis against a live registry (a few examples per operation); the full run is
``python -m tests.reliability.schema --full``. Skipped when schemathesis is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from .schema import run_schemathesis, schemathesis_binary


@pytest.mark.skipif(schemathesis_binary() is None, reason="schemathesis is not installed")
def test_registry_matches_its_openapi_description(tmp_path: Path) -> None:
    result = run_schemathesis(tmp_path, examples=5, phases="fuzzing")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
