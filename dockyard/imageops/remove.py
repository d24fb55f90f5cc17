"""`rmi`: Docker's rules for untagging and deleting images, kept exactly.

Mirrors moby's daemon/images/image_delete.go: untag first when a name was given,
conflicts (hard: child images, running containers; soft: other references, stopped
containers), then delete the image, the layers it releases, and untagged parents
that are now childless.
"""

from __future__ import annotations

import sqlite3

from dockyard import reference
from dockyard.datarecord import dataclass
from dockyard.digest import Digest
from dockyard.errors import Conflict
from dockyard.faults import fault_point
from dockyard.imageops.resolve import is_id_prefix, resolve_image_id
from dockyard.store import Store
from dockyard.store.store import ReleasedLayer


class Mask:
    """Conflict kinds, bit flags (plain ints: an IntFlag class costs start-up time)."""

    DEPENDENT_CHILD = 1
    RUNNING_CONTAINER = 2
    ACTIVE_REFERENCE = 4
    STOPPED_CONTAINER = 8


HARD = Mask.DEPENDENT_CHILD | Mask.RUNNING_CONTAINER
SOFT = Mask.ACTIVE_REFERENCE | Mask.STOPPED_CONTAINER


@dataclass
class ImageDeleteConflict(Conflict):
    image_id: Digest
    message: str
    hard: bool = False
    used: bool = False

    def __str__(self) -> str:
        force = "cannot be forced" if self.hard else "must be forced"
        return f"conflict: unable to delete {self.image_id.short} ({force}) - {self.message}"


def _container_running(store: Store, cid: str) -> bool:
    try:
        from dockyard.runtime.state import is_running
    except ImportError:  # the container runtime is not installed in this build
        return False
    return is_running(store.containers_dir / cid)


class ImageRemover:
    """One `rmi` of one argument, inside one transaction."""

    def __init__(self, store: Store, connection: sqlite3.Connection) -> None:
        self.store = store
        self.db = connection
        self.records: list[dict[str, str]] = []
        self.released: list[ReleasedLayer] = []
        self.deleted_images: list[str] = []

    # -- queries
    def refs(self, image_id: Digest) -> list[tuple[str, str]]:
        return self.db.execute(
            "SELECT name, kind FROM refs WHERE image_id = ? ORDER BY name", (str(image_id),)
        ).fetchall()

    def children(self, image_id: Digest) -> list[str]:
        return [
            r[0]
            for r in self.db.execute("SELECT id FROM images WHERE parent = ?", (str(image_id),))
        ]

    def containers(self, image_id: Digest) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM containers WHERE image_id = ? ORDER BY created", (str(image_id),)
            )
        ]

    def untag(self, name: str) -> None:
        self.db.execute("DELETE FROM refs WHERE name = ?", (name,))
        self.records.append({"Untagged": reference.familiar(name)})

    # -- Docker's algorithm
    def remove(self, text: str, force: bool, prune: bool) -> None:
        image_id = resolve_image_id(self.store, text)
        refs = self.refs(image_id)
        removed_repository_ref = False
        if not is_id_prefix(image_id, text):
            using = self.containers(image_id)
            named = reference.parse(text).with_default_tag()
            if using and len(refs) == 1 and not force:
                raise Conflict(
                    f'conflict: unable to remove repository reference "{text}" (must force)'
                    f" - container {using[0][:12]} is using its referenced image"
                    f" {image_id.short}"
                )
            self.untag(str(named))
            refs = self.refs(image_id)
            if named.digest is None and not any(
                kind == "tag" and reference.parse(name).name == named.name for name, kind in refs
            ):
                for name, kind in refs:
                    if kind == "digest" and reference.parse(name).name == named.name:
                        self.untag(name)
                refs = self.refs(image_id)
            if refs:
                return
            removed_repository_ref = True
        elif _is_single_reference(refs):
            mask = HARD if force else HARD | (SOFT & ~Mask.ACTIVE_REFERENCE)
            conflict = self.conflict(image_id, mask)
            if conflict is not None:
                raise conflict
            for name, _kind in refs:
                self.untag(name)
        self.delete_helper(image_id, force, prune, quiet=removed_repository_ref)

    def conflict(self, image_id: Digest, mask: int) -> ImageDeleteConflict | None:
        if mask & Mask.DEPENDENT_CHILD and self.children(image_id):
            return ImageDeleteConflict(image_id, "image has dependent child images", hard=True)
        containers = self.containers(image_id)
        if mask & Mask.RUNNING_CONTAINER:
            for cid in containers:
                if _container_running(self.store, cid):
                    return ImageDeleteConflict(
                        image_id,
                        f"image is being used by running container {cid[:12]}",
                        hard=True,
                        used=True,
                    )
        if mask & Mask.ACTIVE_REFERENCE and self.refs(image_id):
            return ImageDeleteConflict(image_id, "image is referenced in multiple repositories")
        if mask & Mask.STOPPED_CONTAINER:
            for cid in containers:
                if not _container_running(self.store, cid):
                    return ImageDeleteConflict(
                        image_id, f"image is being used by stopped container {cid[:12]}", used=True
                    )
        return None

    def is_dangling(self, image_id: Digest) -> bool:
        return not self.refs(image_id) and not self.children(image_id)

    def delete_helper(self, image_id: Digest, force: bool, prune: bool, quiet: bool) -> None:
        mask = HARD if force else HARD | SOFT
        conflict = self.conflict(image_id, mask)
        if conflict is not None:
            if quiet and (not self.is_dangling(image_id) or conflict.used):
                return
            raise conflict
        row = self.db.execute(
            "SELECT parent, top_chain FROM images WHERE id = ?", (str(image_id),)
        ).fetchone()
        parent, top_chain = row
        for name, _kind in self.refs(image_id):
            self.untag(name)
        self.db.execute("DELETE FROM images WHERE id = ?", (str(image_id),))
        self.deleted_images.append(str(image_id))
        self.records.append({"Deleted": str(image_id)})
        released = self.store.release_layers(self.db, top_chain)
        self.released.extend(released)
        self.records.extend({"Deleted": layer.chain_id} for layer in released)
        if prune and parent:
            self.delete_helper(Digest.parse(parent), False, True, quiet=True)


def _is_single_reference(refs: list[tuple[str, str]]) -> bool:
    if len(refs) <= 1:
        return len(refs) == 1
    single: str | None = None
    names: set[str] = set()
    for name, kind in refs:
        repository = reference.parse(name).name
        if kind == "digest":
            names.add(repository)
        elif single is None:
            names.add(repository)
            single = repository
        else:
            return False
    if single is None:
        single = reference.parse(refs[0][0]).name
    return len(names) == 1 and single in names


def remove_image(
    store: Store,
    text: str,
    force: bool = False,
    prune: bool = True,
    known_refs: frozenset[str] | None = None,
) -> list[dict]:
    """Remove one image argument; returns Docker's list of {"Untagged"} / {"Deleted"} items.

    ``known_refs`` (for `image prune`, which chose the image before this transaction):
    refuse with a Conflict when the image has gained a reference since.
    """
    store.hold_shared_lock()  # its files are removed after the commit: not leftovers
    with store.transaction() as connection:
        remover = ImageRemover(store, connection)
        if known_refs is not None:
            current = {name for name, _kind in remover.refs(resolve_image_id(store, text))}
            if not current <= known_refs:
                raise Conflict(f"image {text} was tagged meanwhile")
        remover.remove(text, force, prune)
    fault_point("rmi.after-commit")
    store.remove_layer_files(remover.released)
    store.remove_blobs_if_unreferenced(remover.deleted_images)
    return remover.records
