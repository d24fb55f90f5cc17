"""Plain records the store hands out."""

from __future__ import annotations

from pathlib import Path

from dockyard.datarecord import dataclass, field
from dockyard.digest import Digest
from dockyard.oci.types import ImageConfig


@dataclass
class LayerRecord:
    chain_id: Digest
    diff_id: Digest
    parent_chain: Digest | None
    dir: Path
    size: int
    tar_size: int
    blob: Digest
    blob_media_type: str


@dataclass
class ImageRecord:
    id: Digest
    parent: Digest | None
    top_chain: Digest | None
    created: str
    size: int
    added: float
    last_tag_time: str | None
    config: ImageConfig
    repo_tags: list[str] = field(default_factory=list)  # fully qualified, sorted
    repo_digests: list[str] = field(default_factory=list)


@dataclass
class ContainerRow:
    id: str
    name: str
    image_id: Digest
    image_name: str
    created: float
