"""What a container changed, from its overlay upper directory (``docker diff``)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from dockyard.layers.whiteouts import OPAQUE_XATTR


def _is_whiteout(info: os.stat_result) -> bool:
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == 0


def _is_opaque(path: bytes) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


class _Lowers:
    """Overlay lookups in the lower directories (topmost first)."""

    def __init__(self, lowers: list[Path]) -> None:
        self._lowers = [os.fsencode(lower) for lower in lowers]

    def lookup(self, parts: list[bytes]) -> os.stat_result | None:
        """What the merged lower view holds at ``parts``, or None. Every prefix is
        checked with lstat before going below it, so no symlink is followed."""
        for lower in self._lowers:
            path = lower
            below_hidden = False
            for depth, name in enumerate(parts):
                path = os.path.join(path, name)
                try:
                    info = os.lstat(path)
                except (FileNotFoundError, NotADirectoryError):
                    break  # not in this layer: maybe in a deeper one
                if _is_whiteout(info):
                    return None  # deleted here, for every layer below
                if depth == len(parts) - 1:
                    return info
                if not stat.S_ISDIR(info.st_mode):
                    return None  # a file or symlink here ends the path
                if _is_opaque(path):
                    below_hidden = True
            if below_hidden:
                return None
        return None


def changes(
    upper: Path, lowers: list[Path], *, exclude: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """("A"|"C"|"D", "/path") for every change in an overlay ``upper`` directory
    over ``lowers`` (topmost first), in sorted walk order, a directory before
    its contents.

    A whiteout is a deletion (D); an entry also present in the lowers is a
    change (C), otherwise an addition (A); everything inside an opaque
    directory is new (A). A directory present below is listed as changed when
    its mode or owner changed or anything inside it did, as Docker does.
    ``exclude`` names relative paths (the engine's bind-mount targets) to skip.
    """
    skipped = {
        b"/".join(part for part in os.fsencode(path).split(b"/") if part and part != b".")
        for path in exclude
    }
    lower = _Lowers(lowers)
    found: list[tuple[str, str]] = []

    def walk(path: bytes, parts: list[bytes], in_opaque: bool) -> None:
        try:
            names = sorted(os.listdir(path))
        except FileNotFoundError:
            return
        for name in names:
            child_parts = [*parts, name]
            if b"/".join(child_parts) in skipped:
                continue
            child = os.path.join(path, name)
            try:
                info = os.lstat(child)
            except FileNotFoundError:
                continue
            shown = "/" + os.fsdecode(b"/".join(child_parts))
            if _is_whiteout(info):
                found.append(("D", shown))
                continue
            before = None if in_opaque else lower.lookup(child_parts)
            if not stat.S_ISDIR(info.st_mode):
                found.append(("A" if before is None else "C", shown))
                continue
            opaque = in_opaque or _is_opaque(child)
            mark = len(found)
            walk(child, child_parts, opaque)
            if before is None:
                found.insert(mark, ("A", shown))
            elif (
                opaque
                or len(found) > mark
                or not stat.S_ISDIR(before.st_mode)
                or (before.st_mode, before.st_uid, before.st_gid)
                != (info.st_mode, info.st_uid, info.st_gid)
            ):
                found.insert(mark, ("C", shown))

    walk(os.fsencode(upper), [], False)
    return found
