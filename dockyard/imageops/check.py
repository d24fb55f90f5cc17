"""`check [--repair]`: verify blobs, layer directories and references; clean leftovers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from dockyard.digest import Digest
from dockyard.layers.tarsplit import has_record
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


def _tar_split_problem(store: Store, chain: str) -> str | None:
    """What is wrong with a layer kept as tree plus tar-split record (its tar given
    again and checked against its diff ID), or None."""
    from dockyard.errors import DockyardError

    record = store.layer(Digest.parse(chain))
    if record is None:
        return None  # removed meanwhile
    try:
        with store.open_layer_blob(record) as stream:
            while stream.read(1 << 20):
                pass
    except FileNotFoundError:
        return None if store.layer(record.chain_id) is None else f"layer {chain}: files missing"
    except DockyardError as error:
        return str(error)
    return None


def check_store(store: Store, repair: bool = False) -> CheckReport:
    report = CheckReport()

    def problem(text: str, fix=None) -> None:  # type: ignore[no-untyped-def]
        report.problems.append(text)
        if repair and fix is not None:
            fix()
            report.repaired.append(text)

    if repair:
        store.lock_exclusive()
    else:
        store.hold_shared_lock()
    for digest in list(store.blobs.all()):
        try:
            matches = _blob_matches(store, digest)
        except FileNotFoundError:
            continue  # removed meanwhile by another process (rmi)
        if not matches:
            problem(
                f"blob {digest} does not match its digest", lambda d=digest: store.blobs.remove(d)
            )

    db = store.db

    def still(sql: str, *args: str) -> bool:
        """Re-read after a file was found missing: rows are deleted before their files
        and written after them, so a row gone meanwhile was another process's rmi."""
        return db.execute(sql, args).fetchone() is not None

    layer_row = "SELECT 1 FROM layers WHERE chain_id = ?"
    for chain, directory, blob, parent, diff in db.execute(
        "SELECT chain_id, dir, blob, parent_chain, diff_id FROM layers"
    ).fetchall():
        if not (store.layers_dir / directory / "diff").is_dir() and still(
            "SELECT 1 FROM layers WHERE chain_id = ? AND dir = ?", chain, directory
        ):
            problem(f"layer {chain}: directory layers/{directory} is missing")
        if store.blobs.exists(Digest.parse(blob)):
            pass
        elif blob == diff and has_record(store.layers_dir / directory):
            found = _tar_split_problem(store, chain)
            if found is not None and still(layer_row, chain):
                problem(found)
        elif still(layer_row, chain):
            problem(f"layer {chain}: blob {blob} is missing")
        if parent and not still(layer_row, parent) and still(layer_row, chain):
            problem(f"layer {chain}: parent layer {parent} is missing")
    image_row = "SELECT 1 FROM images WHERE id = ?"
    for image_id, top in db.execute("SELECT id, top_chain FROM images").fetchall():
        if not store.blobs.exists(Digest.parse(image_id)) and still(image_row, image_id):
            problem(f"image {image_id}: config blob is missing")
        if top and not still(layer_row, top) and still(image_row, image_id):
            problem(f"image {image_id}: top layer {top} is missing")
    for name, image_id in db.execute("SELECT name, image_id FROM refs").fetchall():
        if not still(image_row, image_id) and still(
            "SELECT 1 FROM refs WHERE name = ? AND image_id = ?", name, image_id
        ):

            def drop(n: str = name) -> None:
                with store.transaction() as connection:
                    connection.execute("DELETE FROM refs WHERE name = ?", (n,))

            problem(f"reference {name} points to missing image {image_id}", drop)
    # Leftovers: only while no other dockyard process runs (the lock tells), since
    # a running command's temp files, and its blobs and layer directories renamed into
    # place a moment before the transaction naming them, look the same.
    if repair or store.try_lock_exclusive():
        try:
            _leftovers(store, problem)
        finally:
            if not repair:
                store.unlock_exclusive()
    return report


def _leftovers(store: Store, problem) -> None:  # type: ignore[no-untyped-def]
    for entry in list(store.tmp.iterdir()):
        problem(
            f"leftover of an interrupted operation: tmp/{entry.name}",
            lambda p=entry: remove_tree(p) if p.is_dir() else p.unlink(missing_ok=True),
        )
    known_dirs = {row[0] for row in store.db.execute("SELECT dir FROM layers")}
    for entry in list(store.layers_dir.iterdir()):
        if entry.name not in known_dirs:
            problem(
                f"layer directory layers/{entry.name} belongs to no layer",
                lambda p=entry: remove_tree(p),
            )
    referenced = store.referenced_blobs()
    for digest in list(store.blobs.all()):
        if str(digest) not in referenced:
            problem(
                f"blob {digest} is referenced by nothing", lambda d=digest: store.blobs.remove(d)
            )
