"""Blocking engine calls in worker threads, one Store and one Engine per thread.

SQLite connections belong to the thread that opened them, so each worker
opens its own Store on the daemon's root the first time it is used.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from dockyard.engine import Engine

T = TypeVar("T")

_local = threading.local()
_root: Path | None = None
_executor: ThreadPoolExecutor | None = None


def configure(root: Path, max_workers: int = 32) -> ThreadPoolExecutor:
    global _root, _executor
    _root = root
    _executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="engine")
    return _executor


def root() -> Path:
    assert _root is not None, "workers.configure() was not called"
    return _root


def engine() -> Any:
    """This thread's Engine (its .store is this thread's Store)."""
    current = getattr(_local, "engine", None)
    if current is None or getattr(_local, "root", None) != _root:
        current = Engine(root())
        _local.engine = current
        _local.root = _root
    return current


def store() -> Any:
    return engine().store


async def run(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run function(*args, **kwargs) in a worker thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, functools.partial(function, *args, **kwargs))


async def with_engine(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run function(engine, *args, **kwargs) in a worker thread with that thread's Engine."""

    def call() -> T:
        return function(engine(), *args, **kwargs)

    return await run(call)


def on_loop_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """function(engine, ...) right here, on the event loop's thread (with that thread's
    own Engine): only for short reads of the store's database, which is in WAL mode so a
    reader never waits for a writer. Handing such a read to a worker thread and back
    costs more than the read itself (two thread wake-ups, each a scheduler round trip
    on a busy machine)."""
    return function(engine(), *args, **kwargs)


def shutdown() -> None:
    if _executor is not None:
        _executor.shutdown(wait=False, cancel_futures=True)
