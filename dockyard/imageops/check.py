"""`check [--repair]`: verify blobs, layer directories and references; clean leftovers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from dockyard.digest import Digest
from dockyard.store import Store
from dockyard.store.store import remove_tree


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.problems or len(self.repaired) == len(self.problems)


def _blob_matches(store: Store, digest: Digest) -> bool:
    hasher = hashlib.new(digest.algorithm)
    with store.blobs.open(digest) as stream:
        while chunk := stream.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest() == digest.hex


def check_store(store: Store, repair: bool = False) -> CheckReport:
    report = CheckReport()

    def problem(text: str, fix=None) -> None:  # type: ignore[no-untyped-def]
        report.problems.append(text)
        if repair and fix is not None:
            fix()
            report.repaired.append(text)

    if repair:
        store.lock_exclusive()
    for digest in list(store.blobs.all()):
        if not _blob_matches(store, digest):
            problem(
                f"blob {digest} does not match its digest", lambda d=digest: store.blobs.remove(d)
            )
    for entry in list(store.tmp.iterdir()):
        problem(
            f"leftover of an interrupted operation: tmp/{entry.name}",
            lambda p=entry: remove_tree(p) if p.is_dir() else p.unlink(missing_ok=True),
        )

    db = store.db
    known_dirs = set()
    for chain, directory, blob, parent in db.execute(
        "SELECT chain_id, dir, blob, parent_chain FROM layers"
    ).fetchall():
        known_dirs.add(directory)
        if not (store.layers_dir / directory / "diff").is_dir():
            problem(f"layer {chain}: directory layers/{directory} is missing")
        if not store.blobs.exists(Digest.parse(blob)):
            problem(f"layer {chain}: blob {blob} is missing")
        if (
            parent
            and db.execute("SELECT 1 FROM layers WHERE chain_id = ?", (parent,)).fetchone() is None
        ):
            problem(f"layer {chain}: parent layer {parent} is missing")
    for entry in list(store.layers_dir.iterdir()):
        if entry.name not in known_dirs:
            problem(
                f"layer directory layers/{entry.name} belongs to no layer",
                lambda p=entry: remove_tree(p),
            )
    for image_id, top in db.execute("SELECT id, top_chain FROM images").fetchall():
        if not store.blobs.exists(Digest.parse(image_id)):
            problem(f"image {image_id}: config blob is missing")
        if top and db.execute("SELECT 1 FROM layers WHERE chain_id = ?", (top,)).fetchone() is None:
            problem(f"image {image_id}: top layer {top} is missing")
    for name, image_id in db.execute("SELECT name, image_id FROM refs").fetchall():
        if db.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is None:

            def drop(n: str = name) -> None:
                with store.transaction() as connection:
                    connection.execute("DELETE FROM refs WHERE name = ?", (n,))

            problem(f"reference {name} points to missing image {image_id}", drop)
    referenced = store.referenced_blobs()
    for digest in list(store.blobs.all()):
        if str(digest) not in referenced:
            problem(
                f"blob {digest} is referenced by nothing", lambda d=digest: store.blobs.remove(d)
            )
    return report
