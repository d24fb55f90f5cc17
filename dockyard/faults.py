"""Fault-injection points for the crash-safety harness (tests/reliability/crash.py).

The store calls ``fault_point(name)`` at its critical moments (a blob written but not
yet renamed, a layer directory renamed but its row not yet committed, ...). Unless
the environment asks for faults, ``fault_point`` is a function that does nothing.

- ``DOCKYARD_FAULT_POINT=name:count``: the process kills itself with SIGKILL the
  ``count``-th time (1-based) it reaches point ``name``;
- ``DOCKYARD_FAULT_TRACE=path``: each point reached is appended to ``path`` as
  ``name`` on its own line (the harness learns which points an operation passes).
"""

from __future__ import annotations

import os
from collections.abc import Callable


def _noop(name: str) -> None:
    return None


def _armed(spec: str | None, trace: str | None) -> Callable[[str], None]:
    import signal
    import threading

    target, _, count_text = (spec or "").rpartition(":")
    limit = int(count_text) if target and count_text.isdigit() else 0
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def fault_point(name: str) -> None:
        with lock:
            counts[name] = seen = counts.get(name, 0) + 1
        if trace:
            fd = os.open(trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{name}\n".encode())
            finally:
                os.close(fd)
        if name == target and seen == limit:
            os.kill(os.getpid(), signal.SIGKILL)

    return fault_point


def _make() -> Callable[[str], None]:
    spec = os.environ.get("DOCKYARD_FAULT_POINT")
    trace = os.environ.get("DOCKYARD_FAULT_TRACE")
    if not spec and not trace:
        return _noop
    return _armed(spec, trace)


fault_point: Callable[[str], None] = _make()

__all__ = ["fault_point"]
