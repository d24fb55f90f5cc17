"""One copy of images from a source place to a destination place (places/base.py):
pull, push, save, load, import and `image copy` are this with two places chosen.

For each image the destination says which layers it needs nothing for; the others
are fetched from the source in layer order (a registry starts their downloads, a few
at a time, resuming partial ones) and all handed to the destination at once, so each
is taken (extracted, uploaded, spooled) as its bytes arrive; they are then recorded
in layer order. Digests are checked where the bytes land: the store checks each
layer's blob digest and diff ID, a registry each digest it is sent, the registry
source each blob it downloads. Progress goes out as one event type
(:class:`~dockyard.places.base.Event`). Another process removing a layer the
destination had (rmi, image prune) is met by copying the image again.

The copy is one coroutine. Under an event loop (pull, push, `image copy`) the layers
are taken as asyncio tasks. Between places that never wait on an event loop (the
store and the files: save, load, import) ``run_copy`` drives the same coroutine
without one, each layer in a thread of its own: these verbs never import asyncio.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Coroutine
from typing import Any

from dockyard.errors import NotFound
from dockyard.places.base import Image, ImageDestination, ImageSource, Report, no_report

RACE_ATTEMPTS = 5


class LoopTasks:
    """Layers taken as asyncio tasks of the running loop."""

    def start(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        import asyncio

        return asyncio.ensure_future(coroutine)

    async def wait(self, task: Any) -> Any:
        return await task

    async def settle(self, tasks: list[Any]) -> list[Any]:
        """Each task's result or exception, once all have ended."""
        import asyncio

        return await asyncio.gather(*tasks, return_exceptions=True)


class ThreadTasks:
    """Layers taken in threads, each driving its coroutine without an event loop
    (``limit`` at a time: the taking spends its time in libarchive and the kernel)."""

    def __init__(self, limit: int) -> None:
        self._slots = threading.BoundedSemaphore(limit)

    def start(self, coroutine: Coroutine[Any, Any, Any]) -> _ThreadTask:
        return _ThreadTask(coroutine, self._slots)

    async def wait(self, task: _ThreadTask) -> Any:
        outcome = task.outcome()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def settle(self, tasks: list[_ThreadTask]) -> list[Any]:
        return [task.outcome() for task in tasks]


class _ThreadTask:
    def __init__(self, coroutine: Coroutine[Any, Any, Any], slots: threading.Semaphore) -> None:
        self._outcome: Any = None
        self._thread = threading.Thread(
            target=self._run, args=(coroutine, slots), name="dockyard-copy", daemon=True
        )
        self._thread.start()

    def _run(self, coroutine: Coroutine[Any, Any, Any], slots: threading.Semaphore) -> None:
        with slots:
            try:
                self._outcome = drive(coroutine)
            except BaseException as error:  # handed to the copy's thread
                self._outcome = error

    def outcome(self) -> Any:
        self._thread.join()
        return self._outcome


def drive(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never waits on an event loop to its end, here."""
    try:
        waited = coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError(f"a synchronous place waited on an event loop ({waited!r})")


async def copy_images(
    source: ImageSource,
    destination: ImageDestination,
    report: Report = no_report,
    tasks: LoopTasks | ThreadTasks | None = None,
) -> list[Any]:
    """Copy every image ``source`` offers; returns what the destination made of each."""
    tasks = tasks or LoopTasks()
    succeeded = False
    try:
        results = [
            await copy_image(source, destination, image, report, tasks)
            for image in await source.images()
        ]
        await destination.commit()
        succeeded = True
        return results
    finally:
        await source.close(succeeded)


async def copy_image(
    source: ImageSource,
    destination: ImageDestination,
    image: Image,
    report: Report,
    tasks: LoopTasks | ThreadTasks | None = None,
) -> Any:
    for attempt in range(RACE_ATTEMPTS):
        try:
            await _copy_layers(source, destination, image, report, tasks or LoopTasks())
            if image.complete is not None:
                image.config = image.complete(image)
            return await destination.put_image(image, report)
        except NotFound:
            # A layer the destination had was removed meanwhile: copy what is missing again.
            if attempt == RACE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def _copy_layers(
    source: ImageSource,
    destination: ImageDestination,
    image: Image,
    report: Report,
    tasks: LoopTasks | ThreadTasks,
) -> None:
    present = await destination.present(image, report)
    missing = [position for position, here in enumerate(present) if not here]
    openers = await source.fetch([image.layers[position] for position in missing], report)
    taking = [
        tasks.start(destination.put_layer(image, position, opener, report))
        for position, opener in zip(missing, openers, strict=True)
    ]
    committed = 0
    try:
        for position, task in zip(missing, taking, strict=True):
            staged = await tasks.wait(task)
            committed += 1
            await destination.commit_layer(image, position, staged, report)
    except BaseException as error:
        if not isinstance(error, NotFound):
            source.interrupt()  # readers still waiting for bytes give up
        # Layers being taken run in threads, which cannot be cancelled: wait for them
        # and drop what they took.
        for outcome in await tasks.settle(taking[committed:]):
            if not isinstance(outcome, BaseException):
                await destination.discard_layer(outcome)
        abandon = getattr(destination, "abandon_layers", None)
        if abandon is not None and committed and not isinstance(error, NotFound):
            await abandon(image, missing[:committed])  # nothing stays of a failed copy
        raise


def run_copy(
    source: ImageSource, destination: ImageDestination, report: Report = no_report
) -> list[Any]:
    """``copy_images`` from synchronous code: without an event loop when both places
    say they are ``synchronous`` (their coroutines never wait on one), else in one."""
    if getattr(source, "synchronous", False) and getattr(destination, "synchronous", False):
        lock = threading.Lock()

        def serialised(event: Any) -> None:  # layers report from their threads
            with lock:
                report(event)

        threads = ThreadTasks(os.cpu_count() or 2)
        return drive(copy_images(source, destination, serialised, threads))  # type: ignore[no-any-return]
    import asyncio

    return asyncio.run(copy_images(source, destination, report))
