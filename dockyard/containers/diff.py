"""`container diff`: A/C/D lines from the container's overlay upper directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from dockyard.containers.lifecycle import find
from dockyard.store import Store

KIND_LETTER = {0: "C", 1: "A", 2: "D", "modify": "C", "add": "A", "delete": "D"}


def lower_dirs(record: Any, directory: Path) -> list[Path]:
    """The container's read-only layers top first (the engine's init layer included)."""
    return [directory / "init", *(Path(p) for p in reversed(record.layer_chain))]


def _normalise(change: Any) -> tuple[str, str]:
    if isinstance(change, tuple):
        kind, path = change[0], change[1]
    else:
        kind, path = change.kind, change.path
    kind = getattr(kind, "value", kind)
    letter = KIND_LETTER.get(kind.lower() if isinstance(kind, str) else kind, kind)
    if isinstance(letter, str) and len(letter) > 1:
        letter = letter[0].upper()
    path = path if isinstance(path, str) else os.fsdecode(path)
    return str(letter), "/" + path.lstrip("/")


def upper_changes(upper: Path, lowers: list[Path]) -> list[tuple[str, str]]:
    try:
        from dockyard.layers.changes import changes
    except ImportError:
        return _walk_changes(upper, lowers)
    return sorted((_normalise(c) for c in changes(upper, lowers)), key=lambda c: c[1])


def _in_lowers(lowers: list[Path], rel: str) -> bool:
    for lower in lowers:
        if os.path.lexists(lower / rel):
            return True
    return False


def _walk_changes(upper: Path, lowers: list[Path]) -> list[tuple[str, str]]:
    """Fallback when the layer codec's changes() is not available."""
    result: list[tuple[str, str]] = []
    for root, dirs, files in os.walk(upper):
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, upper)
            st = os.lstat(full)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                result.append(("D", "/" + rel))
            elif _in_lowers(lowers, rel):
                result.append(("C", "/" + rel))
            else:
                result.append(("A", "/" + rel))
    return sorted(result, key=lambda c: c[1])


def container_changes(store: Store, name: str) -> list[tuple[str, str]]:
    record, directory = find(store, name)
    return upper_changes(directory / "upper", lower_dirs(record, directory))
