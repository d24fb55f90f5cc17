"""Building small images in tests through the store's real code paths."""

from __future__ import annotations

import io
import json
import tarfile
import time

from dockyard import reference
from dockyard.digest import Digest
from dockyard.engine import Engine


def layer_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def child_image(
    engine: Engine,
    parent: str,
    files: dict[str, bytes],
    tag: str | None = None,
    comment: str = "",
) -> Digest:
    """What `commit` makes: the parent's layers plus one, with a local parent link."""
    store = engine.store
    parent_id = engine.images.resolve(parent)
    parent_image = store.image(parent_id)
    layer = store.add_layer_from_tar(io.BytesIO(layer_tar(files)), parent_image.top_chain)
    config = json.loads(store.blobs.read(parent_id))
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"
    config["created"] = created
    config["rootfs"]["diff_ids"].append(str(layer.diff_id))
    config.setdefault("history", []).append(
        {"created": created, "created_by": f"touch {' '.join(files)}", "comment": comment}
    )
    raw = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
    ref = reference.parse(tag).with_default_tag() if tag else None
    return store.add_image(raw, parent_id, ref)
