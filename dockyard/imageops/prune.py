"""`image prune`: remove dangling images (or, with all, every image no container uses)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard import reference
from dockyard.errors import Conflict, NotFound
from dockyard.imageops.remove import remove_image
from dockyard.store import Store


@dataclass
class PruneReport:
    deleted: list[dict[str, str]] = field(default_factory=list)
    reclaimed: int = 0


def prune_images(store: Store, all_images: bool = False) -> PruneReport:
    report = PruneReport()
    rows = store.image_rows()
    parents = {row[1] for row in rows if row[1]}
    refs: dict[str, list[tuple[str, str]]] = {}
    for name, image_id, kind in store.all_refs():
        refs.setdefault(image_id, []).append((name, kind))
    layer_sizes = dict(store.db.execute("SELECT chain_id, size FROM layers").fetchall())
    candidates = [row for row in rows if all_images or row[0] not in parents]
    candidates.sort(key=lambda row: row[3], reverse=True)
    for row in candidates:
        image_id = row[0]
        image_refs = refs.get(image_id, [])
        targets: list[str]
        if image_refs:
            if not all_images and any(kind == "tag" for _n, kind in image_refs):
                continue
            targets = [name for name, _kind in image_refs]
        else:
            targets = [image_id]
        known = frozenset(name for name, _kind in image_refs)
        for target in targets:
            try:
                items = remove_image(store, target, False, True, known_refs=known)
            except (Conflict, NotFound):
                continue
            for item in items:
                if "Untagged" in item:
                    report.deleted.append({"Untagged": item["Untagged"]})
                else:
                    report.deleted.append(item)
                    report.reclaimed += layer_sizes.get(item["Deleted"], 0)
    return report


def familiar_or_id(name: str) -> str:
    return name if name.startswith("sha256:") else reference.familiar(name)
