"""The local store: blobs, layer directories and SQLite metadata under one root.

Files are made durable before the metadata that names them is committed; metadata
changes are single IMMEDIATE transactions, so several processes can share a root.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard.datarecord import dataclass
from dockyard.digest import Digest
from dockyard.errors import Conflict, InvalidArchive, NotFound
from dockyard.faults import fault_point
from dockyard.oci import mediatypes
from dockyard.oci.types import ImageConfig, chain_ids, parse_image_config
from dockyard.reference import Reference
from dockyard.store import db
from dockyard.store.blobs import BlobStore, BlobWriter
from dockyard.store.records import ContainerRow, ImageRecord, LayerRecord
from dockyard.streams import ByteCounter, ObservedReader
from dockyard.timeutil import now_rfc3339

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import BinaryIO

    from dockyard.layers.apply import AppliedLayer

LAYER_DIR_NAME_LENGTH = 20  # short names keep overlay mount options small


@dataclass(frozen=True)
class _StagedLayer:
    """A layer extracted into a staging directory, its blob sealed but not published."""

    diff_id: Digest
    size: int
    tar_size: int
    blob: Digest
    media_type: str


@dataclass(frozen=True)
class StagedTar:
    """A layer staged by ``Store.stage_layer_from_tar``, waiting for ``install_staged``."""

    staging: Path
    writer: BlobWriter
    layer: _StagedLayer | None


@dataclass(frozen=True)
class ReleasedLayer:
    chain_id: str
    dir: str
    blob: str


class Store:
    """One store root. Use ``Store.open(root)``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.layers_dir = root / "layers"
        self.containers_dir = root / "containers"
        self.blobs = BlobStore(root / "blobs", self.tmp)
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None

    @classmethod
    def open(cls, root: Path | str) -> Store:
        store = cls(Path(root))
        for directory in (store.root, store.tmp, store.layers_dir, store.containers_dir):
            directory.mkdir(parents=True, exist_ok=True)
        (store.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        return store

    def _lock(self) -> int:
        if self._lock_fd is None:
            self._lock_fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_SH)
        return self._lock_fd

    def hold_shared_lock(self) -> None:
        """Held by every process that may leave temp files, so `check --repair` can tell
        an interrupted operation's leftovers from one still running."""
        self._lock()

    def try_lock_exclusive(self) -> bool:
        """Upgrade to the exclusive lock if no other dockyard process holds the store."""
        try:
            fcntl.flock(self._lock(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def lock_exclusive(self) -> None:
        if not self.try_lock_exclusive():
            raise Conflict(
                "the store is in use by another dockyard process; run check --repair when it is done"
            )

    def unlock_exclusive(self) -> None:
        """Back to the shared lock every dockyard process holds."""
        fcntl.flock(self._lock(), fcntl.LOCK_SH)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = db.connect(self.root / "dockyard.db")
        return self._db

    def transaction(self):  # type: ignore[no-untyped-def]
        return db.transaction(self.db)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # ---------------------------------------------------------------- layers

    def layer(self, chain_id: Digest) -> LayerRecord | None:
        row = self.db.execute(
            "SELECT chain_id, diff_id, parent_chain, dir, size, tar_size, blob, blob_media_type"
            " FROM layers WHERE chain_id = ?",
            (str(chain_id),),
        ).fetchone()
        return self._layer_from_row(row) if row else None

    def _layer_from_row(self, row: tuple) -> LayerRecord:
        chain, diff, parent, directory, size, tar_size, blob, media_type = row
        return LayerRecord(
            Digest.parse(chain),
            Digest.parse(diff),
            Digest.parse(parent) if parent else None,
            self.layers_dir / directory / "diff",
            size,
            tar_size,
            Digest.parse(blob),
            media_type,
        )

    def layer_chain(self, top_chain: Digest | None) -> list[LayerRecord]:
        """Layers from bottom to top ending at ``top_chain``."""
        result: list[LayerRecord] = []
        current = top_chain
        while current is not None:
            record = self.layer(current)
            if record is None:
                raise NotFound(f"layer does not exist: {current}")
            result.append(record)
            current = record.parent_chain
        result.reverse()
        return result

    def open_layer_blob(self, record: LayerRecord) -> BinaryIO:
        """A layer's blob: the file kept in blobs/ (a download, a compressed load,
        commit's tar, or any layer of a store older than tar-split), else the tar
        given again by its tree and tar-split record, checked against its diff ID
        as it is read (layers/tarsplit.py)."""
        try:
            return self.blobs.open(record.blob)
        except FileNotFoundError:
            pass
        from dockyard.layers.tarsplit import has_record, open_regenerated

        if record.blob != record.diff_id or not has_record(record.dir.parent):
            raise NotFound(f"blob {record.blob} of layer {record.chain_id} is missing")
        return open_regenerated(record.dir.parent, record.diff_id)  # type: ignore[return-value]

    def layer_blob_size(self, record: LayerRecord) -> int:
        """Bytes of ``open_layer_blob``."""
        try:
            return self.blobs.size(record.blob)
        except FileNotFoundError:
            if record.blob == record.diff_id:
                return record.tar_size
            raise NotFound(f"blob {record.blob} of layer {record.chain_id} is missing") from None

    def layer_dirs(self, image_id: Digest) -> list[Path]:
        """Extracted layer directories of an image, bottom to top."""
        image = self.image(image_id)
        return [layer.dir for layer in self.layer_chain(image.top_chain)]

    def add_layer_from_tar(
        self,
        stream: BinaryIO,
        parent_chain: Digest | None,
        *,
        media_type: str = mediatypes.OCI_LAYER,
        expected_diff_id: Digest | None = None,
        expected_blob: Digest | None = None,
        progress=None,  # type: ignore[no-untyped-def]
    ) -> LayerRecord:
        """Apply a (possibly compressed) layer tar on top of ``parent_chain``, keeping its blob."""
        self.hold_shared_lock()
        if parent_chain is not None and self.layer(parent_chain) is None:
            raise NotFound(f"parent layer does not exist: {parent_chain}")
        staged = self.stage_layer_from_tar(
            stream,
            media_type=media_type,
            expected_diff_id=expected_diff_id,
            expected_blob=expected_blob,
            progress=progress,
        )
        return self.install_staged(staged, parent_chain)

    def stage_layer_from_tar(
        self,
        stream: BinaryIO,
        *,
        media_type: str = mediatypes.OCI_LAYER,
        expected_diff_id: Digest | None = None,
        expected_blob: Digest | None = None,
        progress=None,  # type: ignore[no-untyped-def]
        blob_file: Path | None = None,
    ) -> StagedTar:
        """Extract a layer into its own staging directory, neither visible yet, in one
        pass over the bytes. Touches no metadata, so several layers of one image can be
        staged at once in worker threads; ``install_staged`` records them in order.
        The caller holds the shared lock (``hold_shared_lock``).

        What is kept besides the tree (docs/places.md, "the decision on blobs"): an
        uncompressed layer (load, import) becomes a tar-split record beside the tree,
        from which ``open_layer_tar`` gives its tar again; a compressed one keeps its
        blob as received (what push sends), teed while it is extracted and never read
        back. ``blob_file``: the blob's bytes are already in that file (a download,
        checked against ``expected_blob`` by the time ``stream`` ends): it is linked
        into the store instead of being written a second time."""
        from dockyard.layers.apply import apply_layer
        from dockyard.layers.tarsplit import RECORD_NAME

        if blob_file is not None:
            return self._stage_with_blob_file(
                stream, blob_file, media_type, expected_diff_id, expected_blob
            )  # type: ignore[arg-type]
        staging = self._new_staging()
        # apply_layer hashes the raw bytes it tees: the blob writer need not.
        blob_writer = _LazyBlobWriter(self.blobs)
        try:
            if progress:
                stream = ObservedReader(stream, ByteCounter(progress))  # type: ignore[assignment]
            applied = apply_layer(
                stream,
                staging / "diff",
                tee=blob_writer,  # type: ignore[arg-type]
                tar_split=staging / RECORD_NAME,
            )
            _check_diff_id(applied.diff_id, expected_diff_id)
            fault_point("layer.extracted")
            blob = applied.blob_digest
            assert blob is not None  # apply_layer had a tee
            if expected_blob is not None and blob != expected_blob:
                raise InvalidArchive(f"digest mismatch: expected {expected_blob}, got {blob}")
            if applied.tar_split:
                blob_writer.abort()
            else:
                blob_writer.seal(blob)
            layer = _staged_layer(applied, blob, media_type)
            return StagedTar(staging, blob_writer, layer)  # type: ignore[arg-type]
        except BaseException:
            self.discard_staged(StagedTar(staging, blob_writer, None))  # type: ignore[arg-type]
            raise

    def _stage_with_blob_file(
        self,
        stream: BinaryIO,
        blob_file: Path,
        media_type: str,
        expected_diff_id: Digest | None,
        blob: Digest,
    ) -> StagedTar:
        from dockyard.layers.apply import apply_layer

        staging = self._new_staging()
        linked = LinkedBlob(self.blobs, blob_file, blob)
        try:
            applied = apply_layer(stream, staging / "diff")
            while stream.read(1 << 20):  # to the end: the download's digest check
                pass
            _check_diff_id(applied.diff_id, expected_diff_id)
            fault_point("layer.extracted")
            linked.seal()
            layer = _staged_layer(applied, blob, media_type)
            return StagedTar(staging, linked, layer)  # type: ignore[arg-type]
        except BaseException:
            self.discard_staged(StagedTar(staging, linked, None))  # type: ignore[arg-type]
            raise

    def install_staged(self, staged: StagedTar, parent_chain: Digest | None) -> LayerRecord:
        """Record a staged layer on top of ``parent_chain`` (NotFound when another
        process removed the parent meanwhile); the staging is gone afterwards."""
        assert staged.layer is not None
        try:
            return self._install_staged_layer(
                staged.staging, staged.writer, staged.layer, parent_chain
            )
        finally:
            self.discard_staged(staged)

    @staticmethod
    def discard_staged(staged: StagedTar) -> None:
        staged.writer.abort()  # no-op once published
        if staged.staging.exists():
            remove_tree(staged.staging)

    def add_layer_from_upper(
        self,
        upper: Path,
        parent_chain: Digest | None,
        exclude: Iterable[str] = (),
        stable: bool = False,
    ) -> LayerRecord:
        """A new layer from an overlay upper directory (`commit`): its tar becomes the
        blob and its copy the layer directory, both from one walk. ``stable``: no
        process changes the files meanwhile (see snapshot_layer)."""
        from dockyard.layers.snapshot import snapshot_layer

        with (
            self._layer_staging(parent_chain) as staging,
            self.blobs.writer(hashed=False) as blob_writer,
        ):
            layer = snapshot_layer(
                upper,
                staging / "diff",
                blob_writer,  # type: ignore[arg-type]
                exclude=exclude,
                stable=stable,
            )
            fault_point("layer.extracted")
            blob = blob_writer.seal(layer.diff_id)
            return self._install_staged_layer(
                staging,
                blob_writer,
                _StagedLayer(layer.diff_id, layer.size, layer.tar_size, blob, mediatypes.OCI_LAYER),
                parent_chain,
            )

    @contextmanager
    def _layer_staging(self, parent_chain: Digest | None) -> Iterator[Path]:
        """An empty staging directory with an empty ``diff`` inside, removed afterwards."""
        self.hold_shared_lock()
        if parent_chain is not None and self.layer(parent_chain) is None:
            raise NotFound(f"parent layer does not exist: {parent_chain}")
        staging = self._new_staging()
        try:
            yield staging
        finally:
            if staging.exists():
                remove_tree(staging)

    def _new_staging(self) -> Path:
        import tempfile

        staging = Path(tempfile.mkdtemp(prefix="layer-", dir=self.tmp))
        (staging / "diff").mkdir()
        return staging

    def _install_staged_layer(
        self,
        staging: Path,
        blob_writer: BlobWriter,
        staged: _StagedLayer,
        parent_chain: Digest | None,
    ) -> LayerRecord:
        """Rename a complete staged layer and its sealed blob into place and record it."""
        chain_id = (
            staged.diff_id
            if parent_chain is None
            else Digest.of_bytes(f"{parent_chain} {staged.diff_id}".encode())
        )
        existing = self.layer(chain_id)
        if existing is not None and existing.dir.is_dir():
            return existing
        installed: str | None = None
        kept = False
        try:
            _fsync_tree_root(staging)
            installed = self._install_layer_dir(staging, chain_id)
            fault_point("layer.after-rename")
            # Under the write lock: the parent still exists, no other process has
            # added this layer meanwhile, and no rmi removes the blob between its
            # rename and the row that names it.
            with self.transaction() as connection:
                row = connection.execute(
                    "SELECT dir FROM layers WHERE chain_id = ?", (str(chain_id),)
                ).fetchone()
                if row is None or not (self.layers_dir / row[0] / "diff").is_dir():
                    if parent_chain is not None and not self._layer_exists(
                        connection, parent_chain
                    ):
                        raise NotFound(f"parent layer does not exist: {parent_chain}")
                    blob_writer.publish()
                    connection.execute(
                        "INSERT OR REPLACE INTO layers (chain_id, diff_id, parent_chain,"
                        " dir, size, tar_size, blob, blob_media_type)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            str(chain_id),
                            str(staged.diff_id),
                            str(parent_chain) if parent_chain else None,
                            installed,
                            staged.size,
                            staged.tar_size,
                            str(staged.blob),
                            staged.media_type,
                        ),
                    )
                    kept = True
        finally:
            if installed is not None and not kept:
                remove_tree(self.layers_dir / installed)  # another process added it first
        record = self.layer(chain_id)
        if record is None:
            raise NotFound(f"layer {chain_id} was removed while it was added")
        return record

    def _layer_exists(self, connection: sqlite3.Connection, chain_id: Digest) -> bool:
        row = connection.execute(
            "SELECT 1 FROM layers WHERE chain_id = ?", (str(chain_id),)
        ).fetchone()
        return row is not None

    def _install_layer_dir(self, staging: Path, chain_id: Digest) -> str:
        """Rename a staged layer into ``layers/`` under a free name (two processes
        extracting the same layer at once each get their own)."""
        for _attempt in range(1000):
            directory = self._free_layer_dir_name(chain_id)
            try:
                os.rename(staging, self.layers_dir / directory)
                return directory
            except OSError as error:
                if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
        raise Conflict(f"no free directory name for layer {chain_id}")

    def add_empty_layer(self) -> LayerRecord:
        """The layer of an empty input (Docker imports an empty file as one: diff ID e3b0c4...)."""
        self.hold_shared_lock()
        diff_id = self.blobs.put_bytes(b"")
        existing = self.layer(diff_id)
        if existing is not None and existing.dir.is_dir():
            return existing
        directory = self._free_layer_dir_name(diff_id)
        import tempfile

        staging = Path(tempfile.mkdtemp(prefix="layer-", dir=self.tmp))
        (staging / "diff").mkdir()
        os.rename(staging, self.layers_dir / directory)
        with self.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO layers (chain_id, diff_id, parent_chain, dir, size,"
                " tar_size, blob, blob_media_type) VALUES (?, ?, NULL, ?, 0, 0, ?, ?)",
                (str(diff_id), str(diff_id), directory, str(diff_id), mediatypes.OCI_LAYER),
            )
        record = self.layer(diff_id)
        assert record is not None
        return record

    def _free_layer_dir_name(self, chain_id: Digest) -> str:
        name = chain_id.hex[:LAYER_DIR_NAME_LENGTH]
        suffix = 0
        while (self.layers_dir / name).exists():
            suffix += 1
            name = f"{chain_id.hex[:LAYER_DIR_NAME_LENGTH]}-{suffix}"
        return name

    def layer_refcount(self, connection: sqlite3.Connection, chain_id: str) -> int:
        (count,) = connection.execute(
            "SELECT (SELECT COUNT(*) FROM images WHERE top_chain = ?)"
            " + (SELECT COUNT(*) FROM layers WHERE parent_chain = ?)"
            " + (SELECT COUNT(*) FROM containers WHERE top_chain = ?)",
            (chain_id, chain_id, chain_id),
        ).fetchone()
        return count

    def release_layers(
        self, connection: sqlite3.Connection, chain_id: str | None, stop_at: str | None = None
    ) -> list[ReleasedLayer]:
        """Delete rows of layers nobody references any more, top-down (down to, not
        including, ``stop_at``)."""
        released: list[ReleasedLayer] = []
        while (
            chain_id is not None
            and chain_id != stop_at
            and self.layer_refcount(connection, chain_id) == 0
        ):
            row = connection.execute(
                "SELECT parent_chain, dir, blob FROM layers WHERE chain_id = ?", (chain_id,)
            ).fetchone()
            if row is None:
                break
            connection.execute("DELETE FROM layers WHERE chain_id = ?", (chain_id,))
            released.append(ReleasedLayer(chain_id, row[1], row[2]))
            chain_id = row[0]
        return released

    # ---------------------------------------------------------------- images

    def add_image(
        self,
        config_bytes: bytes,
        parent: Digest | None = None,
        tag: Reference | None = None,
    ) -> Digest:
        """Register an image whose layers are already in the store; optionally tag it."""
        config = parse_image_config(config_bytes)
        chains = chain_ids(config.diff_ids)
        top = chains[-1] if chains else None
        image_id = config.id
        self.hold_shared_lock()
        self.blobs.put_bytes(config_bytes, image_id)
        with self.transaction() as connection:
            if not self.blobs.exists(image_id):  # a concurrent rmi removed it meanwhile
                self.blobs.put_bytes(config_bytes, image_id)
            size = 0
            for chain in chains:
                row = connection.execute(
                    "SELECT size FROM layers WHERE chain_id = ?", (str(chain),)
                ).fetchone()
                if row is None:
                    raise NotFound(f"layer {chain} of image {image_id} is not in the store")
                size += row[0]
            if parent is not None and not self._image_exists(connection, parent):
                parent = None
            connection.execute(
                "INSERT OR IGNORE INTO images (id, parent, top_chain, created, size, added)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    str(image_id),
                    str(parent) if parent else None,
                    str(top) if top else None,
                    config.created or "0001-01-01T00:00:00Z",
                    size,
                    time.time(),
                ),
            )
            if tag is not None:
                self.record_ref(connection, tag, image_id)
        return image_id

    def _image_exists(self, connection: sqlite3.Connection, image_id: Digest) -> bool:
        row = connection.execute("SELECT 1 FROM images WHERE id = ?", (str(image_id),)).fetchone()
        return row is not None

    def record_ref(self, connection: sqlite3.Connection, ref: Reference, image_id: Digest) -> None:
        """Point ``ref`` at ``image_id`` inside the caller's transaction."""
        kind = "digest" if ref.digest is not None and ref.tag is None else "tag"
        connection.execute(
            "INSERT OR REPLACE INTO refs (name, image_id, kind) VALUES (?, ?, ?)",
            (str(ref), str(image_id), kind),
        )
        connection.execute(
            "UPDATE images SET last_tag_time = ? WHERE id = ?", (now_rfc3339(), str(image_id))
        )

    def set_tag(self, ref: Reference, image_id: Digest) -> None:
        with self.transaction() as connection:
            if not self._image_exists(connection, image_id):
                raise NotFound(f"No such image: {image_id}")
            self.record_ref(connection, ref, image_id)

    def image(self, image_id: Digest) -> ImageRecord:
        row = self.db.execute(
            "SELECT id, parent, top_chain, created, size, added, last_tag_time FROM images"
            " WHERE id = ?",
            (str(image_id),),
        ).fetchone()
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        return self._image_from_row(row)

    def _image_from_row(self, row: tuple, with_refs: bool = True) -> ImageRecord:
        image_id, parent, top, created, size, added, last_tag_time = row
        config = self.config(Digest.parse(image_id))
        record = ImageRecord(
            Digest.parse(image_id),
            Digest.parse(parent) if parent else None,
            Digest.parse(top) if top else None,
            created,
            size,
            added,
            last_tag_time,
            config,
        )
        if with_refs:
            for name, kind in self.db.execute(
                "SELECT name, kind FROM refs WHERE image_id = ? ORDER BY name", (image_id,)
            ):
                (record.repo_tags if kind == "tag" else record.repo_digests).append(name)
        return record

    def config(self, image_id: Digest) -> ImageConfig:
        try:
            raw = self.blobs.read(image_id)
        except FileNotFoundError:
            raise NotFound(f"config blob of image {image_id} is missing") from None
        return parse_image_config(raw)

    def image_rows(self) -> list[tuple]:
        """(id, parent, top_chain, created, size, added, last_tag_time) of every image."""
        return self.db.execute(
            "SELECT id, parent, top_chain, created, size, added, last_tag_time FROM images"
        ).fetchall()

    def all_refs(self) -> list[tuple[str, str, str]]:
        """(name, image_id, kind) of every reference."""
        return self.db.execute("SELECT name, image_id, kind FROM refs ORDER BY name").fetchall()

    def images(self) -> list[ImageRecord]:
        return [self._image_from_row(row) for row in self.image_rows()]

    def children(self, image_id: Digest) -> list[str]:
        return [
            row[0]
            for row in self.db.execute("SELECT id FROM images WHERE parent = ?", (str(image_id),))
        ]

    def lookup_ref(self, ref: Reference) -> Digest | None:
        row = self.db.execute("SELECT image_id FROM refs WHERE name = ?", (str(ref),)).fetchone()
        return Digest.parse(row[0]) if row else None

    def search_id_prefix(self, prefix: str) -> Digest | None:
        """A unique image whose hex ID starts with ``prefix``, else None."""
        if prefix.startswith("sha256:"):
            prefix = prefix[len("sha256:") :]
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            return None
        rows = self.db.execute(
            "SELECT id FROM images WHERE id >= ? AND id < ? LIMIT 2",
            (f"sha256:{prefix}", f"sha256:{prefix}\x7f"),
        ).fetchall()
        return Digest.parse(rows[0][0]) if len(rows) == 1 else None

    # ---------------------------------------------------------------- containers

    def add_container(self, cid: str, name: str, image_id: Digest, image_name: str) -> None:
        with self.transaction() as connection:
            row = connection.execute("SELECT id FROM containers WHERE name = ?", (name,)).fetchone()
            if row is not None:
                raise Conflict(
                    f'Conflict. The container name "/{name}" is already in use by container'
                    f' "{row[0]}". You have to remove (or rename) that container to be able to'
                    " reuse that name."
                )
            top = connection.execute(
                "SELECT top_chain FROM images WHERE id = ?", (str(image_id),)
            ).fetchone()
            if top is None:
                raise NotFound(f"No such image: {image_id}")
            connection.execute(
                "INSERT INTO containers (id, name, image_id, image_name, top_chain, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (cid, name, str(image_id), image_name, top[0], time.time()),
            )

    def remove_container(self, cid: str) -> list[ReleasedLayer]:
        """Forget a container; returns the chain IDs of layers it was the last user of."""
        with self.transaction() as connection:
            row = connection.execute(
                "SELECT top_chain FROM containers WHERE id = ?", (cid,)
            ).fetchone()
            connection.execute("DELETE FROM containers WHERE id = ?", (cid,))
            released = self.release_layers(connection, row[0]) if row else []
        self.remove_layer_files(released)
        return released

    def rename_container(self, cid: str, new_name: str) -> None:
        with self.transaction() as connection:
            row = connection.execute(
                "SELECT id FROM containers WHERE name = ?", (new_name,)
            ).fetchone()
            if row is not None and row[0] != cid:
                raise Conflict(
                    f'Error when allocating new name: Conflict. The container name "/{new_name}"'
                    f' is already in use by container "{row[0]}". You have to remove (or rename)'
                    " that container to be able to reuse that name."
                )
            connection.execute("UPDATE containers SET name = ? WHERE id = ?", (new_name, cid))

    def list_containers(self) -> list[ContainerRow]:
        return [
            ContainerRow(cid, name, Digest.parse(image_id), image_name, created)
            for cid, name, image_id, image_name, created in self.db.execute(
                "SELECT id, name, image_id, image_name, created FROM containers"
                " ORDER BY created DESC"
            )
        ]

    def find_container(self, text: str) -> ContainerRow:
        rows = self.list_containers()
        for row in rows:
            if row.id == text or row.name == text.lstrip("/"):
                return row
        matches = [row for row in rows if text and row.id.startswith(text)]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"No such container: {text}")

    def containers_using(self, image_id: Digest) -> list[ContainerRow]:
        return [row for row in self.list_containers() if row.image_id == image_id]

    # ---------------------------------------------------------------- removal of files

    def remove_layer_files(self, released: list[ReleasedLayer]) -> None:
        """Remove directories and blobs of layers whose rows are gone (after commit)."""
        for layer in released:
            if not self._layer_dir_in_use(layer.dir):
                remove_tree(self.layers_dir / layer.dir)
            fault_point("release.layer-removed")
        self.remove_blobs_if_unreferenced([layer.blob for layer in released])

    def _layer_dir_in_use(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM layers WHERE dir = ?", (name,)).fetchone() is not None

    def blob_referenced(self, digest: str) -> bool:
        row = self.db.execute(
            "SELECT EXISTS(SELECT 1 FROM images WHERE id = ?)"
            " OR EXISTS(SELECT 1 FROM layers WHERE blob = ?)"
            " OR EXISTS(SELECT 1 FROM compressed_blobs WHERE blob = ?)",
            (digest, digest, digest),
        ).fetchone()
        return bool(row[0])

    def remove_blobs_if_unreferenced(self, digests: list[str]) -> None:
        for digest in digests:
            # Under the write lock, so that no image or layer naming the blob is
            # committed between the check and the unlink.
            with self.transaction():
                if not self.blob_referenced(digest):
                    self.blobs.remove(Digest.parse(digest))

    def referenced_blobs(self) -> set[str]:
        names = {row[0] for row in self.db.execute("SELECT id FROM images")}
        names |= {row[0] for row in self.db.execute("SELECT blob FROM layers")}
        names |= {row[0] for row in self.db.execute("SELECT blob FROM compressed_blobs")}
        return names

    @contextmanager
    def staging_dir(self, prefix: str = "work-") -> Iterator[Path]:
        self.hold_shared_lock()
        import tempfile

        path = Path(tempfile.mkdtemp(prefix=prefix, dir=self.tmp))
        try:
            yield path
        finally:
            remove_tree(path)


class _LazyBlobWriter:
    """A BlobWriter made on the first write: a layer kept as a tar-split record writes
    no blob, and makes no temporary file either."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs
        self._writer: BlobWriter | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._writer is None:
            self._writer = BlobWriter(self._blobs, hashed=False)
        return self._writer.write(data)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def seal(self, digest: Digest) -> None:
        if self._writer is None:  # an empty blob
            self._writer = BlobWriter(self._blobs, hashed=False)
        self._writer.seal(digest)

    def publish(self) -> None:
        if self._writer is not None:
            self._writer.publish()

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None


class LinkedBlob:
    """A blob whose bytes are in a file that is not the store's (a finished download):
    published by a hard link, so its bytes are written once. The file stays its
    owner's (``abort`` leaves it)."""

    def __init__(self, blobs, path: Path, digest: Digest) -> None:  # type: ignore[no-untyped-def]
        self._blobs = blobs
        self.path = path
        self.digest = digest

    def seal(self) -> None:
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def publish(self) -> Digest:
        final = self._blobs.path(self.digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        fault_point("blob.before-rename")
        try:
            os.link(self.path, final)
        except FileExistsError:
            pass
        fault_point("blob.after-rename")
        return self.digest

    def abort(self) -> None:
        pass


def _check_diff_id(diff_id: Digest, expected: Digest | None) -> None:
    if expected is not None and diff_id != expected:
        raise InvalidArchive(
            f"layer content does not match its diff ID: expected {expected}, got {diff_id}"
        )


def _staged_layer(applied: AppliedLayer, blob: Digest, media_type: str) -> _StagedLayer:
    """The record of a layer applied from ``blob`` (its own diff ID when not compressed)."""
    if blob == applied.diff_id:
        media_type = _uncompressed_media_type(media_type)
    return _StagedLayer(applied.diff_id, applied.size, applied.tar_size, blob, media_type)


def _uncompressed_media_type(media_type: str) -> str:
    if media_type.startswith("application/vnd.docker."):
        return mediatypes.DOCKER_LAYER
    return mediatypes.OCI_LAYER


def _fsync_tree_root(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Remove a tree that may hold read-only directories and overlay whiteouts."""
    import shutil  # here: shutil (bz2, lzma, fnmatch) costs start-up time

    def make_writable_and_retry(function, name, _excinfo):  # type: ignore[no-untyped-def]
        try:
            os.chmod(os.path.dirname(name), 0o700)
            function(name)
        except OSError:
            pass

    if "onexc" in shutil.rmtree.__code__.co_varnames:
        shutil.rmtree(path, onexc=make_writable_and_retry)
    else:
        shutil.rmtree(path, onerror=make_writable_and_retry)
