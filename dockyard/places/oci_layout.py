"""The OCI layout directory place (skopeo's ``oci:DIR[:REF]``): read and written in
place; the format itself is layout_format.py."""

from __future__ import annotations

import json
import os
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArchive
from dockyard.places.layout_format import (
    ANNOTATION_REF_NAME,
    INDEX_JSON,
    LayoutReader,
    MemberFile,
    file_size,
    index_json,
    invalid,
    layout_files,
    oci_annotations,
    plan_images,
)
from dockyard.places.layout_io import FileSource, LayoutWriter, select
from dockyard.places.tar_writer import copy_exact


class LayoutDirectory:
    """The files of an OCI layout directory, for the layout reader."""

    kind = "layout"

    def __init__(self, root: Path) -> None:
        self.root = root

    def __contains__(self, name: object) -> bool:
        return (self.root / str(name)).is_file()

    def find(self, path: Any, what: str, follow_links: bool = True) -> MemberFile:
        try:
            size = (self.root / path).stat().st_size
        except FileNotFoundError:
            raise invalid(
                f"{what} refers to {path!r}, which is not in the layout", "layout"
            ) from None
        return MemberFile(size, partial(open, self.root / path, "rb"))


class OciLayoutSource(FileSource):
    """The images of an OCI layout directory (``oci:DIR[:REF]``)."""

    def __init__(self, root: Path, wanted: str | None = None) -> None:
        if not (root / INDEX_JSON).is_file():
            raise InvalidArchive(f"{root}: not an OCI layout (no {INDEX_JSON})")
        self._images = select(LayoutReader(LayoutDirectory(root)).oci_images(), wanted)


class OciLayoutDestination(LayoutWriter):
    """Images added to an OCI layout directory at commit (``oci:DIR[:REF]``): blobs
    first, each renamed into place once written, index.json last, where an entry of
    the same name is replaced and the others are kept."""

    plain = False

    def __init__(self, root: Path, ref_name: str | None = None) -> None:
        super().__init__()
        self.root = root
        self.ref_name = ref_name

    def write(self) -> None:
        files = layout_files(plan_images(self.images), oci_annotations, self.ref_name)
        entries = json.loads(files[INDEX_JSON])["manifests"]
        if (self.root / INDEX_JSON).is_file():
            names = {_ref_name(entry) for entry in entries} - {None}
            existing = json.loads((self.root / INDEX_JSON).read_bytes()).get("manifests", [])
            files[INDEX_JSON] = index_json(
                [entry for entry in existing if _ref_name(entry) not in names] + entries
            )
        for name in sorted(files, key=lambda name: name == INDEX_JSON):
            target, content = self.root / name, files[name]
            if name.startswith("blobs/") and target.is_file():
                if target.stat().st_size == file_size(content):
                    continue
            target.parent.mkdir(parents=True, exist_ok=True)
            out = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".tmp-", delete=False)
            try:
                with out:
                    if isinstance(content, bytes):
                        out.write(content)
                    else:
                        with content.open() as stream:
                            copy_exact(stream, out, content.size, name)  # type: ignore[arg-type]
                os.chmod(out.name, 0o644)
                os.replace(out.name, target)
            except BaseException:
                Path(out.name).unlink(missing_ok=True)
                raise


def _ref_name(entry: dict[str, Any]) -> str | None:
    return (entry.get("annotations") or {}).get(ANNOTATION_REF_NAME)
