"""What every place offers, so that moving an image is one copy (imageops/copy.py).

An :class:`ImageSource` lists the images it holds (config bytes, layers, names) and
opens a layer's blob; an :class:`ImageDestination` says how many bottom layers it has
already, takes layers (several at once), records them in order, takes the image and
commits. Blob bytes always cross as a plain blocking reader, read in a worker thread;
the rest is coroutines, because a registry's is asyncio. A place whose coroutines
never wait on an event loop (its blocking work goes through :func:`blocking`) says so
with a true ``synchronous`` attribute: a copy between two such places runs without
one (imageops/copy.py's ``run_copy``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, BinaryIO, Protocol, TypeVar

from dockyard.datarecord import dataclass, field
from dockyard.digest import Digest
from dockyard.oci import mediatypes as mt
from dockyard.reference import Reference


@dataclass(frozen=True)
class Event:
    """The one progress report of a copy, in the shape of Docker's JSON messages:
    a line (``item`` None), an item's status, or an item's progress bar (with
    ``current`` and ``total``)."""

    item: str | None
    status: str
    current: int | None = None
    total: int | None = None


Report = Callable[[Event], None]
Opener = Callable[[], AbstractContextManager[BinaryIO]]


def no_report(_event: Event) -> None:
    pass


@dataclass
class Layer:
    """One layer as its source holds it: the blob (as ``media_type`` says, maybe
    compressed) and what is known of it before it is read."""

    diff_id: Digest  # None only while a rootfs tar's layer is read (``Image.complete``)
    media_type: str
    size: int  # blob bytes (-1: unknown; 0: an empty input)
    digest: Digest | None  # the blob's digest; None when the source does not name it
    item: str  # the short ID progress shows
    tar_size: int = -1  # uncompressed bytes, when the source knows them
    open: Opener | None = field(default=None, repr=False)  # the raw blob, for file sources
    verified: bool = False  # the store's own: its digests were checked when it came in


@dataclass
class Image:
    """One image of a source: exact config bytes, layers bottom to top, names it carries."""

    config: bytes
    layers: list[Layer]
    names: list[Reference] = field(default_factory=list)
    manifest_digest: Digest | None = None  # the source's manifest digest (a registry's)
    manifest: bytes | None = None  # the source's manifest, kept when nothing is converted
    manifest_type: str = ""
    # a source that learns the config from its layers (a rootfs tar: the diff ID)
    complete: Callable[[Image], bytes] | None = field(default=None, repr=False)
    ref_names: list[str] = field(default_factory=list)  # an OCI index's ref.name annotations

    @property
    def repo_tags(self) -> list[str]:
        """The tags it carries, familiar (``name:tag``)."""
        return [name.familiar() for name in self.names if name.tag is not None]

    @property
    def id(self) -> Digest:
        return Digest.of_bytes(self.config)


def file_layer(
    diff_id: Digest, media_type: str, size: int, digest: Digest | None, open: Opener
) -> Layer:
    """A layer an archive or layout holds as a file or member (``open`` yields its raw
    bytes); ``digest`` when the file is named by it. Nothing is checked here: the
    destination verifies what it reads."""
    tar_size = -1 if is_compressed(media_type) else size
    return Layer(diff_id, media_type, size, digest, diff_id.short, tar_size, open=open)


class ImageSource(Protocol):
    async def images(self) -> list[Image]:
        """The images to copy (an index resolved to the platform unless asked for all)."""

    async def fetch(self, layers: list[Layer], report: Report) -> list[Opener]:
        """Make the blobs of an image's missing layers readable (a registry starts
        their downloads here); for each, what opens its raw bytes."""

    def interrupt(self) -> None:
        """The copy failed: readers waiting for bytes raise instead of waiting."""

    async def close(self, succeeded: bool) -> None:
        """Release what the source holds (partial downloads are kept for a resume
        unless the copy succeeded or the source lied)."""


class ImageDestination(Protocol):
    async def present(self, image: Image, report: Report) -> list[bool]:
        """For each layer: does the destination need nothing for it?"""

    async def put_layer(self, image: Image, position: int, opener: Opener, report: Report) -> Any:
        """Take one layer (several run at once); the result goes to commit_layer."""

    async def commit_layer(self, image: Image, position: int, staged: Any, report: Report) -> None:
        """Record a layer taken by put_layer; called in layer order."""

    async def discard_layer(self, staged: Any) -> None:
        """Drop a layer put_layer took when the copy fails. (A destination that records
        layers also has ``abandon_layers(image, positions)``: the copy failed above the
        layers it recorded at these positions.)"""

    async def put_image(self, image: Image, report: Report) -> Any:
        """Record the image (config, manifest, names) once its layers are in; the
        result is what the copy returns for it."""

    async def commit(self) -> None:
        """Finish (an archive is written here); nothing is visible before."""


T = TypeVar("T")


def running_loop() -> Any:
    """The event loop running in this thread; None when the copy is driven without one
    (asyncio is then not even imported)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def blocking(call: Callable[[], T], executor: Callable[[], Any] | None = None) -> T:
    """A place's blocking work: under an event loop in a worker thread (``executor()``'s
    pool, else the loop's default); without one inline, in the thread the copy gave
    this layer."""
    loop = running_loop()
    if loop is None:
        return call()
    return await loop.run_in_executor(executor() if executor else None, call)  # type: ignore[no-any-return]


def reporter_for_threads(report: Report) -> Report:
    """``report`` for a worker thread: under an event loop handed to the loop's thread;
    without one called directly (``run_copy`` serialises the reports)."""
    loop = running_loop()
    if loop is None:
        return report
    return lambda event: loop.call_soon_threadsafe(report, event)


def is_compressed(media_type: str) -> bool:
    return media_type not in (mt.OCI_LAYER, mt.DOCKER_LAYER)


def report_to(events: Any) -> Report:
    """Events as the CLI and the daemon take them (client/events.py's Events)."""

    def report(event: Event) -> None:
        if event.item is None:
            events.line(event.status)
        elif event.current is None:
            events.status(event.item, event.status)
        else:
            events.progress(event.item, event.status, event.current, event.total or 0)

    return report
