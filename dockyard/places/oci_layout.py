"""The OCI layout directory place (skopeo's ``oci:DIR[:REF]``): read and written in
place; the format itself is layout_format.py."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from dockyard.datarecord import dataclass
from dockyard.errors import InvalidArchive
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import MAX_JSON_DOCUMENT
from dockyard.places.layout_format import (
    ANNOTATION_REF_NAME,
    INDEX_JSON,
    OCI_LAYOUT,
    OCI_LAYOUT_CONTENT,
    LayoutReading,
    PlannedLayout,
    default_platform,
    go_json,
    oci_annotations,
    plan_layout,
)
from dockyard.places.layout_io import FileSource, LayoutWriter, select


@dataclass(frozen=True)
class _File:
    path: Path
    size: int


class LayoutDirectory(LayoutReading):
    """The images of an OCI layout directory (``oci:DIR``)."""

    def __init__(self, root: Path, platform: tuple[str, str] | None = None) -> None:
        self.root = root
        self._platform = platform or default_platform()
        if not (root / INDEX_JSON).is_file():
            raise InvalidArchive(f"{root}: not an OCI layout (no {INDEX_JSON})")
        self.images = self._read_oci_layout()

    def _has(self, name: str) -> bool:
        return (self.root / name).is_file()

    def _member(self, path: Any, what: str, follow_links: bool = True) -> _File:
        target = self.root / path
        try:
            size = target.stat().st_size
        except FileNotFoundError:
            raise InvalidArchive(
                f"invalid layout: {what} refers to {path!r}, which is not in the layout"
            ) from None
        return _File(target, size)

    def _read_small(self, member: _File, what: str) -> bytes:
        if member.size > MAX_JSON_DOCUMENT:
            raise InvalidArchive(f"invalid layout: {what} is too large ({member.size} bytes)")
        return member.path.read_bytes()

    def _opener(self, member: _File) -> Callable[[], AbstractContextManager[BinaryIO]]:
        @contextmanager
        def open_file() -> Iterator[BinaryIO]:
            with open(member.path, "rb") as stream:
                yield stream

        return open_file


def write_layout_directory(
    root: Path, layout: PlannedLayout, replace: Callable[[dict], bool]
) -> None:
    """Add a planned layout to the directory ``root`` (created when absent): blobs
    first (each written to a temporary name and renamed), index.json last, keeping
    the entries already there that ``replace`` does not match."""
    import tempfile

    from dockyard.places.tar_writer import copy_exact

    root.mkdir(parents=True, exist_ok=True)
    for member in layout.blobs.values():
        target = root / member.path
        if target.is_file() and target.stat().st_size == member.size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                if member.data is not None:
                    out.write(member.data)
                else:
                    assert member.layer is not None
                    with member.layer.open() as stream:
                        copy_exact(stream, out, member.size, f"layer {member.layer.diff_id}")
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    manifests = json.loads(layout.index_json)["manifests"]
    index_path = root / INDEX_JSON
    if index_path.is_file():
        kept = [
            e for e in json.loads(index_path.read_bytes()).get("manifests", []) if not replace(e)
        ]
        manifests = kept + manifests
    (root / OCI_LAYOUT).write_bytes(OCI_LAYOUT_CONTENT)
    index = go_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests})
    temporary_index = root / f".{INDEX_JSON}.tmp"
    temporary_index.write_bytes(index)
    os.replace(temporary_index, index_path)


class OciLayoutSource(FileSource):
    """The images of an OCI layout directory (``oci:DIR[:REF]``)."""

    def __init__(self, root: Path, wanted: str | None = None) -> None:
        self._images = select(LayoutDirectory(root).images, wanted)


class OciLayoutDestination(LayoutWriter):
    """Images added to an OCI layout directory at commit (``oci:DIR[:REF]``); an index
    entry of the same name is replaced, the others are kept."""

    plain = False

    def __init__(self, root: Path, ref_name: str | None = None) -> None:
        super().__init__()
        self.root = root
        self.ref_name = ref_name

    async def commit(self) -> None:
        layout = plan_layout(self.images, oci_annotations, self.ref_name)
        names = {
            entry.get("annotations", {}).get(ANNOTATION_REF_NAME)
            for entry in json.loads(layout.index_json)["manifests"]
        } - {None}

        def replaced(entry: dict) -> bool:
            return (entry.get("annotations") or {}).get(ANNOTATION_REF_NAME) in names

        await asyncio.get_running_loop().run_in_executor(
            None, write_layout_directory, self.root, layout, replaced
        )
