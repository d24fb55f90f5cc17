"""Manifests: validate and store on PUT, negotiate and serve on GET, delete.

A manifest's bytes are stored as a blob; the ``manifests`` row says which
repository holds it, ``manifest_refs`` what it references (blobs for an image
manifest, child manifests for an index) and ``subject`` feeds the referrers API.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from dockyard.digest import Digest
from dockyard.errors import InvalidArchive
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import Index, Manifest, parse_manifest_or_index
from dockyard.registry.content import Content
from dockyard.registry.errors import RegistryError, RegistryErrors

MAX_MANIFEST = 4 << 20
FOREIGN_LAYERS = frozenset(
    {mt.DOCKER_LAYER_FOREIGN, mt.OCI_LAYER_NONDIST, mt.OCI_LAYER_NONDIST_GZIP}
)
KNOWN_TYPES = mt.MANIFESTS | mt.INDEXES | mt.SCHEMA1


@dataclass(frozen=True)
class StoredManifest:
    digest: Digest
    media_type: str
    size: int


@dataclass(frozen=True)
class PutResult:
    digest: Digest
    subject: Digest | None


def _refs(parsed: Manifest | Index) -> list[tuple[str, str, bool]]:
    """(digest, kind, must exist) for everything the manifest references."""
    if isinstance(parsed, Index):
        return [(str(d.digest), "manifest", True) for d in parsed.manifests]
    refs = [(str(parsed.config.digest), "blob", True)]
    for layer in parsed.layers:
        foreign = bool(layer.urls) and layer.media_type in FOREIGN_LAYERS
        refs.append((str(layer.digest), "blob", not foreign))
    return refs


def _artifact_type(parsed: Manifest | Index) -> str | None:
    """The referrers API's artifactType: the manifest's own, else its config's media type."""
    if parsed.artifact_type:
        return parsed.artifact_type
    if isinstance(parsed, Manifest):
        return parsed.config.media_type
    return None


def parse_for_put(data: bytes, content_type: str | None) -> Manifest | Index:
    declared = (content_type or "").split(";")[0].strip() or None
    if declared not in KNOWN_TYPES:
        declared = None
    try:
        return parse_manifest_or_index(data, declared)
    except InvalidArchive as error:
        raise RegistryError("MANIFEST_INVALID", str(error)) from None


class Manifests:
    def __init__(self, content: Content) -> None:
        self.content = content
        self.meta = content.meta

    # -- reads ----------------------------------------------------------------------

    def resolve(self, repo: str, reference: str, by_digest: Digest | None) -> StoredManifest:
        """The manifest a tag or digest names in ``repo``, else MANIFEST_UNKNOWN."""
        if by_digest is not None:
            row = self.meta.one(
                "SELECT digest, media_type, size FROM manifests WHERE repo = ? AND digest = ?",
                repo,
                str(by_digest),
            )
            detail: object = {"Name": repo, "Revision": str(by_digest)}
        else:
            row = self.meta.one(
                "SELECT m.digest, m.media_type, m.size FROM tags t JOIN manifests m "
                "ON m.repo = t.repo AND m.digest = t.digest WHERE t.repo = ? AND t.tag = ?",
                repo,
                reference,
            )
            detail = {"Tag": reference}
        if row is None:
            raise RegistryError("MANIFEST_UNKNOWN", detail)
        return StoredManifest(Digest.parse(row[0]), row[1], row[2])

    def read(self, stored: StoredManifest) -> bytes:
        return self.content.read(stored.digest)

    def platform_child(self, repo: str, index_bytes: bytes) -> StoredManifest | None:
        """The linux/amd64 image of a Docker manifest list (for clients without list support)."""
        try:
            parsed = parse_manifest_or_index(index_bytes)
        except InvalidArchive:
            return None
        if not isinstance(parsed, Index):
            return None
        for entry in parsed.manifests:
            platform = entry.platform
            if platform and platform.os == "linux" and platform.architecture == "amd64":
                try:
                    return self.resolve(repo, str(entry.digest), entry.digest)
                except RegistryError:
                    return None
        return None

    # -- writes (blocking) --------------------------------------------------------------

    def put(
        self,
        repo: str,
        tag: str | None,
        by_digest: Digest | None,
        data: bytes,
        content_type: str | None,
    ) -> PutResult:
        parsed = parse_for_put(data, content_type)
        algorithm = by_digest.algorithm if by_digest else "sha256"
        digest = Digest.of_bytes(data, algorithm)
        if by_digest is not None and digest != by_digest:
            raise RegistryError("DIGEST_INVALID", f"manifest digest is {digest}, not {by_digest}")
        refs = _refs(parsed)
        subject = parsed.subject.digest if parsed.subject else None
        annotations = json.dumps(parsed.annotations) if parsed.annotations else None
        now = time.time()
        with self.meta.write() as db:
            missing = []
            for child, kind, required in refs:
                if not required:
                    continue
                if kind == "blob":
                    row = db.execute(
                        "SELECT 1 FROM repo_blobs r JOIN blobs b ON b.digest = r.digest "
                        "WHERE r.repo = ? AND r.digest = ?",
                        (repo, child),
                    ).fetchone()
                else:
                    row = db.execute(
                        "SELECT 1 FROM manifests WHERE repo = ? AND digest = ?", (repo, child)
                    ).fetchone()
                if row is None:
                    missing.append(RegistryError("MANIFEST_BLOB_UNKNOWN", child))
            if missing:
                raise RegistryErrors(missing)
            self.content.put_verified_bytes(db, repo, digest, data, now)
            db.execute(
                "INSERT INTO repositories (name, created) VALUES (?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (repo, now),
            )
            db.execute(
                "INSERT INTO manifests (repo, digest, media_type, size, subject, artifact_type, "
                "annotations, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (repo, digest) DO UPDATE SET created = excluded.created",
                (
                    repo,
                    str(digest),
                    parsed.media_type,
                    len(data),
                    str(subject) if subject else None,
                    _artifact_type(parsed),
                    annotations,
                    now,
                ),
            )
            db.executemany(
                "INSERT INTO manifest_refs (repo, manifest, child, kind) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [(repo, str(digest), child, kind) for child, kind, _ in refs],
            )
            if tag is not None:
                db.execute(
                    "INSERT INTO tags (repo, tag, digest, updated) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (repo, tag) DO UPDATE SET digest = excluded.digest, "
                    "updated = excluded.updated",
                    (repo, tag, str(digest), now),
                )
        return PutResult(digest, subject)

    def delete(self, repo: str, tag: str | None, by_digest: Digest | None) -> None:
        """Delete a manifest (and every tag naming it) by digest, or only a tag."""
        with self.meta.write() as db:
            if by_digest is None:
                deleted = db.execute(
                    "DELETE FROM tags WHERE repo = ? AND tag = ?", (repo, tag)
                ).rowcount
                if not deleted:
                    raise RegistryError("MANIFEST_UNKNOWN", {"Tag": tag})
                return
            key = str(by_digest)
            deleted = db.execute(
                "DELETE FROM manifests WHERE repo = ? AND digest = ?", (repo, key)
            ).rowcount
            if not deleted:
                raise RegistryError("MANIFEST_UNKNOWN", {"Name": repo, "Revision": key})
            db.execute("DELETE FROM manifest_refs WHERE repo = ? AND manifest = ?", (repo, key))
            db.execute("DELETE FROM tags WHERE repo = ? AND digest = ?", (repo, key))


def negotiate(
    stored: StoredManifest, accept: list[str], manifests: Manifests, repo: str
) -> tuple[StoredManifest, bytes]:
    """Apply the client's Accept list to a manifest named by tag, as the CNCF registry does.

    No Accept (or ``*/*``) gets the stored manifest. An OCI manifest or index the client
    does not accept is MANIFEST_UNKNOWN; a Docker manifest list goes to a client that
    only accepts Docker v2 manifests as its linux/amd64 image. Schema 1 is never made up.
    """
    data = manifests.read(stored)
    if not accept or "*/*" in accept or stored.media_type in accept:
        return stored, data
    if stored.media_type == mt.OCI_MANIFEST:
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            message="OCI manifest found, but accept header does not support OCI manifests",
        )
    if stored.media_type == mt.OCI_INDEX:
        raise RegistryError(
            "MANIFEST_UNKNOWN",
            message="OCI index found, but accept header does not support OCI indexes",
        )
    if stored.media_type == mt.DOCKER_MANIFEST_LIST and mt.DOCKER_MANIFEST in accept:
        child = manifests.platform_child(repo, data)
        if child is not None:
            return child, manifests.read(child)
    return stored, data
