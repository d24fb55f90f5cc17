"""Online garbage collection: delete what nothing references, while pushes go on.

1. Manifests (only with ``delete_untagged``): mark from every tag, through index
   children and referrers (manifests whose ``subject`` is marked); manifests younger
   than the grace period are roots too. Unmarked manifests are deleted after a
   re-check inside a write transaction.
2. Blobs: a blob is live when a manifest references it, when it is itself a manifest,
   or when it was linked, stored or written within the grace period. Each candidate is
   re-checked, unlinked and its file deleted inside one write transaction: pushes link
   blobs inside write transactions too, so the two never interleave.
3. Upload sessions idle for longer than the upload grace period, and upload
   directories without a session, are deleted.

Many nodes: one collection at a time per registry (``Metadata.try_lock("gc")``: an
advisory lock in PostgreSQL, an flock next to the SQLite file), and the sweeping
transactions are ``write(exclusive=True)``: no push on any node commits a link or a
manifest while a batch re-checks and deletes. A blob a push has just uploaded or
found present (HEAD refreshes its link) is inside the grace period, so a push that
is about to reference it keeps it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from dockyard.digest import Digest
from dockyard.errors import DockyardError, InvalidDigest
from dockyard.registry.content import blob_path
from dockyard.registry.metadata import Metadata, Transaction
from dockyard.registry.storage import StorageDriver

BATCH = 100
LAST_RUN = "gc_last_run"


@dataclass
class GcPolicy:
    grace: float = 3600.0
    upload_grace: float = 86400.0
    delete_untagged: bool = False
    dry_run: bool = False


@dataclass
class GcReport:
    dry_run: bool = False
    manifests: list[tuple[str, str]] = field(default_factory=list)
    blobs: list[tuple[str, int]] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return sum(size for _, size in self.blobs)

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        lines = [f"{verb} manifest {repo}@{digest}" for repo, digest in self.manifests]
        lines += [f"{verb} blob {digest} ({size} bytes)" for digest, size in self.blobs]
        lines += [f"{verb} upload {upload}" for upload in self.uploads]
        lines.append(
            f"{len(self.manifests)} manifests, {len(self.blobs)} blobs, {len(self.uploads)} "
            f"uploads {verb}; {self.bytes_freed} bytes {'to free' if self.dry_run else 'freed'}"
        )
        return lines


def _batches(items: list, size: int = BATCH) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- manifests ------------------------------------------------------------------------------


def _dead_manifests(meta: Metadata, cutoff: float) -> set[tuple[str, str]]:
    with meta.snapshot() as db:
        everything = {(r, d) for r, d in db.execute("SELECT repo, digest FROM manifests")}
        roots = {(r, d) for r, d in db.execute("SELECT repo, digest FROM tags")}
        roots |= {
            (r, d)
            for r, d in db.execute(
                "SELECT repo, digest FROM manifests WHERE created > ?", (cutoff,)
            )
        }
        children: dict[tuple[str, str], list[str]] = {}
        for repo, parent, child in db.execute(
            "SELECT repo, manifest, child FROM manifest_refs WHERE kind = 'manifest'"
        ):
            children.setdefault((repo, parent), []).append(child)
        referrers: dict[tuple[str, str], list[str]] = {}
        for repo, digest, subject in db.execute(
            "SELECT repo, digest, subject FROM manifests WHERE subject IS NOT NULL"
        ):
            referrers.setdefault((repo, subject), []).append(digest)
    marked: set[tuple[str, str]] = set()
    stack = [root for root in roots if root in everything]
    while stack:
        node = stack.pop()
        if node in marked:
            continue
        marked.add(node)
        repo = node[0]
        for digest in children.get(node, []) + referrers.get(node, []):
            if (repo, digest) in everything and (repo, digest) not in marked:
                stack.append((repo, digest))
    return everything - marked


def _manifest_still_dead(
    db: Transaction, repo: str, digest: str, cutoff: float, dead: set[tuple[str, str]]
) -> bool:
    row = db.execute(
        "SELECT created, subject FROM manifests WHERE repo = ? AND digest = ?", (repo, digest)
    ).fetchone()
    if row is None or row[0] > cutoff:
        return False
    if db.execute("SELECT 1 FROM tags WHERE repo = ? AND digest = ?", (repo, digest)).fetchone():
        return False
    for (parent,) in db.execute(
        "SELECT manifest FROM manifest_refs WHERE repo = ? AND child = ? AND kind = 'manifest'",
        (repo, digest),
    ):
        if (repo, parent) not in dead:
            return False
    subject = row[1]
    if subject and (repo, subject) not in dead:
        alive = db.execute(
            "SELECT 1 FROM manifests WHERE repo = ? AND digest = ?", (repo, subject)
        ).fetchone()
        if alive:
            return False
    return True


def _sweep_manifests(meta: Metadata, cutoff: float, policy: GcPolicy, report: GcReport) -> set:
    dead = _dead_manifests(meta, cutoff)
    if policy.dry_run:
        report.manifests.extend(sorted(dead))
        return dead
    for batch in _batches(sorted(dead)):
        with meta.write(exclusive=True) as db:
            for repo, digest in batch:
                if not _manifest_still_dead(db, repo, digest, cutoff, dead):
                    continue
                db.execute("DELETE FROM manifests WHERE repo = ? AND digest = ?", (repo, digest))
                db.execute(
                    "DELETE FROM manifest_refs WHERE repo = ? AND manifest = ?", (repo, digest)
                )
                report.manifests.append((repo, digest))
    return set()


# -- blobs ------------------------------------------------------------------------------------


def _digest_of_path(path: str) -> str | None:
    parts = path.split("/")  # blobs/<algorithm>/<xx>/<hex>/data
    if len(parts) != 5 or parts[0] != "blobs" or parts[4] != "data":
        return None
    try:
        return str(Digest.parse(f"{parts[1]}:{parts[3]}"))
    except InvalidDigest:
        return None


def _blob_live(
    db: Transaction,
    digest: str,
    cutoff: float,
    ignored: set[tuple[str, str]],
) -> bool:
    for repo, manifest in db.execute(
        "SELECT repo, manifest FROM manifest_refs WHERE child = ?", (digest,)
    ):
        if (repo, manifest) not in ignored:
            return True
    for repo, manifest in db.execute(
        "SELECT repo, digest FROM manifests WHERE digest = ?", (digest,)
    ):
        if (repo, manifest) not in ignored:
            return True
    if db.execute(
        "SELECT 1 FROM repo_blobs WHERE digest = ? AND linked > ?", (digest, cutoff)
    ).fetchone():
        return True
    return bool(
        db.execute(
            "SELECT 1 FROM blobs WHERE digest = ? AND created > ?", (digest, cutoff)
        ).fetchone()
    )


def _sweep_blobs(
    driver: StorageDriver,
    meta: Metadata,
    cutoff: float,
    policy: GcPolicy,
    report: GcReport,
    ignored: set[tuple[str, str]],
) -> None:
    sizes: dict[str, int] = {}
    for info in driver.walk("blobs"):
        digest = _digest_of_path(info.path)
        if digest is not None:
            sizes[digest] = info.size
    for digest, size in meta.all("SELECT digest, size FROM blobs"):
        sizes.setdefault(digest, size)
    for batch in _batches(sorted(sizes)):
        with meta.write(exclusive=True) as db:
            for digest in batch:
                if _blob_live(db, digest, cutoff, ignored):
                    continue
                path = blob_path(Digest.parse(digest))
                info = driver.stat(path)
                recorded = db.execute("SELECT 1 FROM blobs WHERE digest = ?", (digest,)).fetchone()
                if info is not None and info.mtime > cutoff and recorded is None:
                    # just written, its row not committed yet (a blob with a row is judged
                    # by the row's times above: object stores cannot backdate an mtime)
                    continue
                report.blobs.append((digest, info.size if info else sizes[digest]))
                if policy.dry_run:
                    continue
                db.execute("DELETE FROM repo_blobs WHERE digest = ?", (digest,))
                db.execute("DELETE FROM blobs WHERE digest = ?", (digest,))
                driver.delete(path.rsplit("/", 1)[0])


# -- uploads ----------------------------------------------------------------------------------


def _sweep_uploads(
    driver: StorageDriver, meta: Metadata, cutoff: float, policy: GcPolicy, report: GcReport
) -> None:
    sessions = {row[0]: row[1] for row in meta.all("SELECT id, updated FROM uploads")}
    for upload_id in driver.list("uploads"):
        directory = driver.stat(f"uploads/{upload_id}")  # a session being created has no file yet
        newest = directory.mtime if directory else 0.0
        for info in driver.walk(f"uploads/{upload_id}"):
            newest = max(newest, info.mtime)
        updated = sessions.get(upload_id, 0.0)
        if driver.needs_upload_state and upload_id in sessions:
            newest = updated  # the row records every request; the parts are not objects
        if max(newest, updated) > cutoff:
            continue
        report.uploads.append(upload_id)
        if policy.dry_run:
            continue
        with meta.write(exclusive=True) as db:
            row = db.execute("SELECT updated FROM uploads WHERE id = ?", (upload_id,)).fetchone()
            if row is not None and row[0] > cutoff:
                report.uploads.pop()
                continue
            db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        driver.delete(f"uploads/{upload_id}")
    # sessions whose directory is gone
    listed = set(driver.list("uploads"))
    stale = [i for i, updated in sessions.items() if i not in listed and updated <= cutoff]
    if stale and not policy.dry_run:
        with meta.write(exclusive=True) as db:
            db.executemany(
                "DELETE FROM uploads WHERE id = ? AND updated <= ?", [(i, cutoff) for i in stale]
            )


class GcBusy(DockyardError):
    """Another process (or node) of this registry is collecting right now."""


def collect(
    driver: StorageDriver, meta: Metadata, policy: GcPolicy, now: float | None = None
) -> GcReport:
    """One collection; GcBusy when another one runs (on any node sharing ``meta``)."""
    with meta.try_lock("gc") as acquired:
        if not acquired:
            raise GcBusy("garbage collection is already running for this registry")
        now = time.time() if now is None else now
        cutoff = now - policy.grace
        report = GcReport(dry_run=policy.dry_run)
        ignored: set[tuple[str, str]] = set()
        if policy.delete_untagged:
            ignored = _sweep_manifests(meta, cutoff, policy, report)
        _sweep_blobs(driver, meta, cutoff, policy, report, ignored)
        _sweep_uploads(driver, meta, now - policy.upload_grace, policy, report)
        if not policy.dry_run:
            _record_run(meta, now)
        return report


def _record_run(meta: Metadata, now: float) -> None:
    with meta.write() as db:
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (LAST_RUN, repr(now)),
        )


def last_run(meta: Metadata) -> float | None:
    row = meta.one("SELECT value FROM settings WHERE key = ?", LAST_RUN)
    return float(row[0]) if row else None


def collect_if_due(
    driver: StorageDriver, meta: Metadata, policy: GcPolicy, interval: float
) -> GcReport | None:
    """Periodic gc on a node: None when any node of the registry collected less than
    ``interval`` seconds ago or is collecting now (so N nodes do not run N collections)."""
    previous = last_run(meta)
    if previous is not None and time.time() - previous < interval * 0.9:
        return None
    try:
        return collect(driver, meta, policy)
    except GcBusy:
        return None
