"""The OCI archive place (skopeo's ``oci-archive:FILE[:REF]``): an OCI image layout as
one tar. Read by the docker-archive reader (it knows an index.json-only archive);
written here: the layout's blobs as they are (compressed or not), ``index.json`` and
``oci-layout``, in a deterministic tar."""

from __future__ import annotations

from typing import BinaryIO

from dockyard.places.layout_format import layout_files, oci_annotations, plan_images
from dockyard.places.layout_io import LayoutWriter
from dockyard.places.tar_writer import write_tar


class OciArchiveDestination(LayoutWriter):
    """An OCI archive written to ``out`` at commit; ``ref_name`` names its image in
    index.json (``org.opencontainers.image.ref.name``), else each image's names do."""

    plain = False

    def __init__(self, out: BinaryIO, ref_name: str | None = None) -> None:
        super().__init__()
        self.out = out
        self.ref_name = ref_name

    def write(self) -> None:
        files = layout_files(plan_images(self.images), oci_annotations, self.ref_name)
        write_tar(self.out, files)
