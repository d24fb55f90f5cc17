"""Container verbs (create, start, stop, ps, logs, commit, ...) returning data, not text."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any


def inspect_container(store: Any, name: str) -> dict[str, Any]:
    """Docker's inspect JSON of one container (the image commands call this)."""
    from dockyard.containers.inspect import inspect_container as _inspect

    return _inspect(store, name)
