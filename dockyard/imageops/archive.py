"""`save` and `load`: the local store to and from docker-archive tars."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from dockyard import reference
from dockyard.datarecord import dataclass
from dockyard.digest import Digest
from dockyard.errors import NotFound
from dockyard.imageops.copy import run_copy
from dockyard.imageops.resolve import resolve_image_id
from dockyard.places.base import Event, Image, Report
from dockyard.places.docker_archive import DockerArchiveDestination, DockerArchiveSource
from dockyard.places.store import StoreDestination, StoredImage, StoreSource, store_image
from dockyard.store import Store


def _selection(store: Store, names: list[str]) -> dict[Digest, set[str]]:
    """Images to save, in order, each with the familiar tags to record: a repository
    name saves every tag it has, a tag or digest its image, an ID its image untagged."""
    chosen: dict[Digest, set[str]] = {}
    for name in names:
        try:
            ref = None if reference.HEX_ID_RE.match(name) else reference.parse(name)
        except Exception:
            ref = None
        if ref is not None and ref.tag is None and ref.digest is None:
            tagged = [
                (Digest.parse(image_id), reference.familiar(full))
                for full, image_id, kind in store.all_refs()
                if kind == "tag" and reference.parse(full).name == ref.name
            ]
            for image_id, tag in tagged:
                chosen.setdefault(image_id, set()).add(tag)
            if tagged:
                continue
        elif ref is not None:
            image_id = store.lookup_ref(ref)
            if image_id is not None:
                chosen.setdefault(image_id, set()).add(ref.familiar())
                continue
            if store.db.execute(
                "SELECT 1 FROM refs WHERE name LIKE ?", (ref.name + ":%",)
            ).fetchone():
                raise NotFound("reference does not exist")
        try:
            chosen.setdefault(resolve_image_id(store, name), set())
        except NotFound:
            raise NotFound(f"No such image: {name}") from None
    return chosen


def save_images(store: Store, names: list[str], out: BinaryIO) -> None:
    images = [
        store_image(
            store, image_id, [reference.parse(tag).with_default_tag() for tag in sorted(tags)]
        )
        for image_id, tags in _selection(store, names).items()
    ]
    destination = DockerArchiveDestination(out)
    try:
        run_copy(StoreSource(store, images), destination)
    finally:
        destination.close()


@dataclass
class LoadReport:
    lines: list[str]
    image_ids: list[Digest]


def load_images(
    store: Store,
    source: Path | BinaryIO,
    progress: Callable[[str, int, int], None] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> LoadReport:
    """Load every image of an archive; layers already in the store are not extracted again.
    ``on_line`` gets each "Loaded image" line as soon as that image is in the store."""
    lines: list[str] = []
    ids: list[Digest] = []

    def say(line: str) -> None:
        lines.append(line)
        if on_line is not None:
            on_line(line)

    def report(event: Event) -> None:
        if progress is not None and event.current is not None:
            progress(event.item or "", event.current, event.total or 0)

    class Loading(StoreDestination):
        async def put_image(self, image: Image, report: Report) -> StoredImage:
            stored: StoredImage = await super().put_image(image, report)
            _loaded(stored, lines, say)
            ids.append(stored.image_id)
            return stored

    with store.staging_dir("load-") as tmpdir:
        destination = Loading(store, action="Loading layer")
        try:
            run_copy(DockerArchiveSource(source, tmpdir), destination, report)
        finally:
            destination.close()
    return LoadReport(lines, ids)


def _loaded(stored: StoredImage, lines: list[str], say: Callable[[str], None]) -> None:
    """Docker's lines for one loaded image."""
    if not stored.names:
        say(f"Loaded image ID: {stored.image_id}")
        return
    for ref in stored.names:
        before = stored.previous[str(ref)]
        if before is not None and before != stored.image_id and str(ref) not in stored.existed:
            lines.append(
                f"The image {ref.familiar()} already exists, renaming the old one with ID"
                f" {before} to empty string"
            )
        say(f"Loaded image: {ref.familiar()}")
