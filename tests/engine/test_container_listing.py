"""engine.containers.list's before/since filters (the CLI's `ps -f` and the daemon's
/containers/json share them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.errors import NotFound
from tests.containers.support import NEEDS_RUNTIME

pytestmark = NEEDS_RUNTIME


def test_before_and_since_bound_the_listing(engine, busybox_tar: Path, store_root: Path) -> None:  # type: ignore[no-untyped-def]
    engine.images.import_(str(busybox_tar), "busybox:latest", changes=['CMD ["sh"]'])
    for name in ("first", "second", "third"):
        engine.containers.create("busybox", ["true"], name=name)

    def names(**filters: list[str]) -> list[str]:
        return [s.name for s in engine.containers.list(all=True, filters=filters)]

    assert names() == ["third", "second", "first"]
    assert names(before=["third"]) == ["second", "first"]
    assert names(since=["first"]) == ["third", "second"]
    assert names(since=["first"], before=["third"]) == ["second"]
    assert names(before=["second"], name=["fir"]) == ["first"]
    with pytest.raises(NotFound):
        names(before=["nothing-by-that-name"])
    ps = subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "--root", str(store_root), "ps", "-a",
         "--filter", "before=third", "--format", "{{.Names}}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert ps.stdout == "second\nfirst\n"
    for name in ("first", "second", "third"):
        engine.containers.remove(name)
