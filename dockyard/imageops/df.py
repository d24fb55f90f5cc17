"""`system df`: space used by images and containers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dockyard.store import Store


def tree_size(path: Path) -> int:
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return total


def disk_usage(store: Store) -> dict[str, Any]:
    db = store.db
    images = db.execute("SELECT id, top_chain FROM images").fetchall()
    used_images = {row[0] for row in db.execute("SELECT image_id FROM containers")}
    layers = {
        row[0]: (row[1], row[2])
        for row in db.execute("SELECT chain_id, parent_chain, size FROM layers")
    }

    def chain(top: str | None) -> set[str]:
        result = set()
        while top and top in layers:
            result.add(top)
            top = layers[top][0]
        return result

    all_chains: set[str] = set()
    active_chains: set[str] = set()
    for image_id, top in images:
        members = chain(top)
        all_chains |= members
        if image_id in used_images:
            active_chains |= members
    size = sum(layers[c][1] for c in all_chains)
    active_size = sum(layers[c][1] for c in active_chains)
    containers = store.list_containers()
    container_size = sum(tree_size(store.containers_dir / c.id / "upper") for c in containers)
    return {
        "images": {
            "total": len(images),
            "active": len(used_images & {i for i, _t in images}),
            "size": size,
            "reclaimable": size - active_size,
        },
        "containers": {
            "total": len(containers),
            "active": 0,
            "size": container_size,
            "reclaimable": container_size,
        },
    }
