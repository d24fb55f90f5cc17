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
from dockyard.reference import Reference
from dockyard.store import Store


def _selection(store: Store, names: list[str]) -> list[tuple[Digest, list[str]]]:
    """Images to save, in order, each with the familiar tags to record."""
    chosen: dict[Digest, list[str]] = {}
    for name in names:
        tags: list[str] = []
        try:
            ref: Reference | None = reference.parse(name)
        except Exception:
            ref = None
        if ref is not None and not reference.HEX_ID_RE.match(name):
            if ref.tag is None and ref.digest is None:
                found = [
                    (n, i)
                    for n, i, kind in store.all_refs()
                    if kind == "tag" and reference.parse(n).name == ref.name
                ]
                if found:
                    for full, image_id in found:
                        chosen.setdefault(Digest.parse(image_id), []).append(
                            reference.familiar(full)
                        )
                    continue
            else:
                image_id = store.lookup_ref(ref)
                if image_id is None:
                    if store.db.execute(
                        "SELECT 1 FROM refs WHERE name LIKE ?", (ref.name + ":%",)
                    ).fetchone():
                        raise NotFound("reference does not exist")
                    image_id = store.search_id_prefix(name)
                    if image_id is None:
                        raise NotFound(f"No such image: {name}")
                else:
                    tags.append(ref.familiar())
                chosen.setdefault(image_id, []).extend(tags)
                continue
        try:
            image_id = resolve_image_id(store, name)
        except NotFound:
            raise NotFound(f"No such image: {name}") from None
        chosen.setdefault(image_id, [])
    return [(image_id, sorted(dict.fromkeys(tags))) for image_id, tags in chosen.items()]


def save_images(store: Store, names: list[str], out: BinaryIO) -> None:
    images = [
        store_image(store, image_id, [reference.parse(tag).with_default_tag() for tag in tags])
        for image_id, tags in _selection(store, names)
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
