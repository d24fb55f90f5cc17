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
"""

from __future__ import annotations

import asyncio
from typing import Any

from dockyard.errors import NotFound
from dockyard.places.base import Image, ImageDestination, ImageSource, Report, no_report

RACE_ATTEMPTS = 5


async def copy_images(
    source: ImageSource, destination: ImageDestination, report: Report = no_report
) -> list[Any]:
    """Copy every image ``source`` offers; returns what the destination made of each."""
    succeeded = False
    try:
        results = [
            await copy_image(source, destination, image, report) for image in await source.images()
        ]
        await destination.commit()
        succeeded = True
        return results
    finally:
        await source.close(succeeded)


async def copy_image(
    source: ImageSource, destination: ImageDestination, image: Image, report: Report
) -> Any:
    for attempt in range(RACE_ATTEMPTS):
        try:
            await _copy_layers(source, destination, image, report)
            if image.complete is not None:
                image.config = image.complete(image)
            return await destination.put_image(image, report)
        except NotFound:
            # A layer the destination had was removed meanwhile: copy what is missing again.
            if attempt == RACE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def _copy_layers(
    source: ImageSource, destination: ImageDestination, image: Image, report: Report
) -> None:
    present = await destination.present(image, report)
    missing = [position for position, here in enumerate(present) if not here]
    openers = await source.fetch([image.layers[position] for position in missing], report)
    tasks = [
        asyncio.ensure_future(destination.put_layer(image, position, opener, report))
        for position, opener in zip(missing, openers, strict=True)
    ]
    committed = 0
    try:
        for position, task in zip(missing, tasks, strict=True):
            staged = await task
            committed += 1
            await destination.commit_layer(image, position, staged, report)
    except BaseException as error:
        if not isinstance(error, NotFound):
            source.interrupt()  # readers still waiting for bytes give up
        # Layers being taken run in threads, which cannot be cancelled: wait for them
        # and drop what they took.
        outcomes = await asyncio.gather(*tasks[committed:], return_exceptions=True)
        for outcome in outcomes:
            if not isinstance(outcome, BaseException):
                await destination.discard_layer(outcome)
        raise


def run_copy(
    source: ImageSource, destination: ImageDestination, report: Report = no_report
) -> list[Any]:
    """``copy_images`` from synchronous code."""
    return asyncio.run(copy_images(source, destination, report))
