"""An independent look at a store: what it holds and which invariants hold.

Reads the SQLite metadata and the files directly (not through dockyard.store), so a
bug in the store cannot hide itself from the judge.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def tree_digest(root: Path) -> str:
    """A digest of a directory tree: names, types, modes, sizes, link targets, contents."""
    digest = hashlib.sha256()
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = Path(directory, name)
            info = path.lstat()
            rel = str(path.relative_to(root))
            digest.update(f"{rel}\0{info.st_mode:o}\0{info.st_uid}\0{info.st_gid}\0".encode())
            if stat.S_ISLNK(info.st_mode):
                digest.update(os.readlink(path).encode())
            elif stat.S_ISREG(info.st_mode):
                digest.update(sha256_file(path).encode())
            elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                digest.update(f"{os.major(info.st_rdev)},{os.minor(info.st_rdev)}".encode())
    return digest.hexdigest()


def tar_split_digest(layer_dir: Path) -> str | None:
    """The digest of the tar a layer's tar-split record and files give (the record's
    format as dockyard/layers/tarsplit.py documents it, read here independently), or
    None without a record."""
    record = layer_dir / "tar-split"
    if not record.is_file():
        return None
    data = record.read_bytes()
    magic = b"dockyard tar-split 2\n"
    if not data.startswith(magic):
        return "damaged record"
    offset = len(magic)
    _meta_size, _tar_size, count, _names_size = struct.unpack_from("<QQII", data, offset)
    offset += struct.calcsize("<QQII")
    before = struct.unpack_from(f"<{count}Q", data, offset)
    offset += 8 * count
    sizes = struct.unpack_from(f"<{count}Q", data, offset)
    offset += 8 * count
    lengths = struct.unpack_from(f"<{count}H", data, offset)
    offset += 2 * count
    files = []
    for at, size, length in zip(before, sizes, lengths, strict=True):
        files.append((at, size, data[offset : offset + length]))
        offset += length
    meta = data[offset:]
    digest = hashlib.sha256()
    previous = 0
    for at, size, path in files:
        digest.update(meta[previous:at])
        previous = at
        try:
            with open(layer_dir / os.fsdecode(path), "rb") as stream:
                content = stream.read(size)
        except OSError:
            return f"missing {path!r}"
        if len(content) != size:
            return f"short {path!r}"
        digest.update(content)
    digest.update(meta[previous:])
    return "sha256:" + digest.hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    chains: list[str] = []
    for diff in diff_ids:
        if not chains:
            chains.append(diff)
        else:
            chains.append("sha256:" + hashlib.sha256(f"{chains[-1]} {diff}".encode()).hexdigest())
    return chains


@dataclass
class StoreState:
    refs: dict[str, str] = field(default_factory=dict)  # name -> image id
    images: dict[str, str | None] = field(default_factory=dict)  # id -> top chain
    layers: dict[str, tuple[str, str]] = field(default_factory=dict)  # chain -> (dir, blob)
    trees: dict[str, str] = field(default_factory=dict)  # chain -> tree digest
    visible_problems: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    def image_chain(self, image_id: str) -> list[str]:
        chain, current = [], self.images.get(image_id)
        while current:
            chain.append(current)
            current = self._parents.get(current)
        return chain

    _parents: dict[str, str | None] = field(default_factory=dict)


def _blob(root: Path, digest: str) -> Path:
    algorithm, _, hexpart = digest.partition(":")
    return root / "blobs" / algorithm / hexpart


def read_state(root: Path, with_trees: bool = True) -> StoreState:
    """The store's content and its problems.

    ``visible_problems``: a reference, image or layer row that names something missing
    or wrong (never allowed, not even right after a crash). ``leftovers``: what an
    interruption may leave and ``check --repair`` must remove (temp files, unreferenced
    blobs and layer directories).
    """
    state = StoreState()
    database = root / "dockyard.db"
    if not database.exists():
        return state
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=60)
    try:
        state.refs = dict(connection.execute("SELECT name, image_id FROM refs"))
        state.images = dict(connection.execute("SELECT id, top_chain FROM images"))
        rows = connection.execute("SELECT chain_id, parent_chain, dir, blob, diff_id FROM layers")
        layer_rows = {chain: (parent, d, blob, diff) for chain, parent, d, blob, diff in rows}
        containers = connection.execute("SELECT id, top_chain FROM containers").fetchall()
        compressed = [r[0] for r in connection.execute("SELECT blob FROM compressed_blobs")]
    finally:
        connection.close()
    problems = state.visible_problems
    state._parents = {chain: row[0] for chain, row in layer_rows.items()}
    state.layers = {chain: (row[1], row[2]) for chain, row in layer_rows.items()}
    checked_blobs: dict[str, bool] = {}

    def blob_ok(digest: str) -> bool:
        if digest not in checked_blobs:
            path = _blob(root, digest)
            checked_blobs[digest] = path.is_file() and sha256_file(path) == digest
        return checked_blobs[digest]

    for name, image_id in state.refs.items():
        if image_id not in state.images:
            problems.append(f"reference {name} -> missing image {image_id}")
    for image_id, top in state.images.items():
        if not blob_ok(image_id):
            problems.append(f"image {image_id}: config blob missing or wrong")
            continue
        config = json.loads(_blob(root, image_id).read_bytes())
        chains = chain_ids(list((config.get("rootfs") or {}).get("diff_ids") or []))
        if (chains[-1] if chains else None) != top:
            problems.append(f"image {image_id}: top chain {top} does not match its config")
        for chain in chains:
            if chain not in layer_rows:
                problems.append(f"image {image_id}: layer {chain} missing")
    for chain, (parent, directory, blob, _diff) in layer_rows.items():
        if parent and parent not in layer_rows:
            problems.append(f"layer {chain}: parent {parent} missing")
        if not (root / "layers" / directory / "diff").is_dir():
            problems.append(f"layer {chain}: directory {directory} missing")
        elif with_trees:
            state.trees[chain] = tree_digest(root / "layers" / directory / "diff")
        if not blob_ok(blob) and not (
            blob == _diff and tar_split_digest(root / "layers" / directory) == blob
        ):
            problems.append(f"layer {chain}: blob {blob} (or its tar-split) missing or wrong")
    for cid, top in containers:
        if top and top not in layer_rows:
            problems.append(f"container {cid}: layer {top} missing")
    for blob in compressed:
        if not blob_ok(blob):
            problems.append(f"compressed blob {blob} missing or wrong")

    referenced = set(state.images) | {row[2] for row in layer_rows.values()} | set(compressed)
    for entry in sorted((root / "tmp").iterdir()) if (root / "tmp").is_dir() else []:
        state.leftovers.append(f"tmp/{entry.name}")
    dirs = {row[1] for row in layer_rows.values()}
    for entry in sorted((root / "layers").iterdir()) if (root / "layers").is_dir() else []:
        if entry.name not in dirs:
            state.leftovers.append(f"layers/{entry.name}")
    blobs_root = root / "blobs"
    for algorithm in sorted(blobs_root.iterdir()) if blobs_root.is_dir() else []:
        for entry in sorted(algorithm.iterdir()):
            name = f"{algorithm.name}:{entry.name}"
            if name not in referenced:
                state.leftovers.append(f"blob {name} unreferenced")
    return state


def preserved(before: StoreState, after: StoreState, may_remove: set[str]) -> list[str]:
    """What existed before (and the operation was not asked to remove) and is gone or changed."""
    lost: list[str] = []
    kept_images: set[str] = set()
    for name, image_id in before.refs.items():
        if name in may_remove:
            continue
        if after.refs.get(name) != image_id:
            lost.append(f"reference {name}: {image_id} -> {after.refs.get(name)}")
        kept_images.add(image_id)
    for image_id in kept_images:
        if image_id not in after.images:
            lost.append(f"image {image_id} lost")
            continue
        for chain in before.image_chain(image_id):
            if chain not in after.layers:
                lost.append(f"image {image_id}: layer {chain} lost")
            elif before.trees.get(chain) and after.trees.get(chain) != before.trees[chain]:
                lost.append(f"image {image_id}: layer {chain} content changed")
    return lost
