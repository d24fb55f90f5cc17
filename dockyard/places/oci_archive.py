"""The OCI archive place (skopeo's ``oci-archive:FILE[:REF]``): an OCI image layout
as one tar. Read by the docker-archive reader (it knows an index.json-only archive);
written here: the layout's blobs (as they are, compressed or not), ``index.json``
and ``oci-layout``, in a deterministic tar."""

from __future__ import annotations

import asyncio
from typing import BinaryIO

from dockyard.places.docker_archive import write_members
from dockyard.places.layout_format import (
    INDEX_JSON,
    OCI_LAYOUT,
    OCI_LAYOUT_CONTENT,
    layout_members,
    oci_annotations,
    plan_layout,
)
from dockyard.places.layout_io import LayoutWriter


class OciArchiveDestination(LayoutWriter):
    """An OCI archive written to ``out`` at commit; ``ref_name`` names its image in
    index.json (``org.opencontainers.image.ref.name``), else each image's names do."""

    plain = False

    def __init__(self, out: BinaryIO, ref_name: str | None = None) -> None:
        super().__init__()
        self.out = out
        self.ref_name = ref_name

    async def commit(self) -> None:
        layout = plan_layout(self.images, oci_annotations, self.ref_name)
        files = {INDEX_JSON: layout.index_json, OCI_LAYOUT: OCI_LAYOUT_CONTENT}
        members = layout_members(layout.blobs, files)
        await asyncio.get_running_loop().run_in_executor(None, write_members, self.out, members)
