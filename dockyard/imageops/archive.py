"""`save` and `load`: the local store to and from docker-archive tars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dockyard import reference
from dockyard.datarecord import dataclass
from dockyard.digest import Digest
from dockyard.errors import NotFound
from dockyard.imageops.resolve import resolve_image_id
from dockyard.oci.types import chain_ids, parse_image_config
from dockyard.reference import Reference
from dockyard.store import LayerRecord, Store


def _layer_opener(store: Store, layer: LayerRecord) -> Callable[[], BinaryIO]:
    @contextmanager
    def open_uncompressed() -> Iterator[BinaryIO]:
        with store.blobs.open(layer.blob) as raw:
            if layer.blob == layer.diff_id:
                yield raw
            else:
                from dockyard.layers.compression import open_decompressed

                yield open_decompressed(raw)

    return open_uncompressed  # type: ignore[return-value]


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
    from dockyard.places.docker_archive import ArchiveImage, ArchiveLayer, write_docker_archive

    images = []
    for image_id, tags in _selection(store, names):
        image = store.image(image_id)
        layers = [
            ArchiveLayer(layer.diff_id, layer.tar_size, _layer_opener(store, layer))
            for layer in store.layer_chain(image.top_chain)
        ]
        images.append(ArchiveImage(store.blobs.read(image_id), tags, layers))
    write_docker_archive(out, images)


LAYER_RACE_ATTEMPTS = 5


def _add_layers(store: Store, entry, config, progress) -> None:  # type: ignore[no-untyped-def]
    """Extract the layers of one archive image the store does not have yet."""
    parent_chain: Digest | None = None
    for diff_id, chain_id, layer in zip(
        config.diff_ids, chain_ids(config.diff_ids), entry.layers, strict=True
    ):
        if store.layer(chain_id) is None:
            report = None
            if progress is not None:
                short = diff_id.short

                def report(done: int, _short: str = short, _size: int = layer.size) -> None:
                    progress(_short, done, _size)

            with layer.open() as stream:
                store.add_layer_from_tar(
                    stream,
                    parent_chain,
                    media_type=layer.media_type,
                    expected_diff_id=diff_id,
                    expected_blob=layer.digest,
                    progress=report,
                )
        parent_chain = chain_id


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
    from dockyard.places.docker_archive import open_archive

    lines: list[str] = []
    ids: list[Digest] = []

    def say(line: str) -> None:
        lines.append(line)
        if on_line is not None:
            on_line(line)

    with store.staging_dir("load-") as tmpdir, open_archive(source, tmpdir) as archive:
        for entry in archive.images:
            config = parse_image_config(entry.config)
            if len(config.diff_ids) != len(entry.layers):
                from dockyard.errors import InvalidArchive

                raise InvalidArchive(
                    f"invalid archive: image config lists {len(config.diff_ids)} layers,"
                    f" the manifest {len(entry.layers)}"
                )
            refs = [reference.parse(text).with_default_tag() for text in entry.repo_tags]
            for attempt in range(LAYER_RACE_ATTEMPTS):
                try:
                    _add_layers(store, entry, config, progress)
                    image_id = config.id
                    existed = {n for n, i, _k in store.all_refs() if i == str(image_id)}
                    previous = {str(ref): store.lookup_ref(ref) for ref in refs}
                    # Tagged in the transaction that adds it: a concurrent `image prune`
                    # never sees it dangling.
                    store.add_image(entry.config, tag=refs[0] if refs else None)
                    for ref in refs[1:]:
                        store.set_tag(ref, image_id)
                    break
                except NotFound:
                    # Another process removed a layer this image shares meanwhile (rmi,
                    # image prune): add what is missing again.
                    if attempt == LAYER_RACE_ATTEMPTS - 1:
                        raise
            ids.append(image_id)
            if not refs:
                say(f"Loaded image ID: {image_id}")
                continue
            for ref in refs:
                before = previous[str(ref)]
                if before is not None and before != image_id and str(ref) not in existed:
                    lines.append(
                        f"The image {ref.familiar()} already exists, renaming the old one with ID"
                        f" {before} to empty string"
                    )
                say(f"Loaded image: {ref.familiar()}")
    return LoadReport(lines, ids)
