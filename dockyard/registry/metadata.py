"""Registry metadata in SQLite: one file (``registry.db``) in the storage directory.

Blob bytes live in the storage driver; everything else lives here: which blobs a
repository may serve, manifests and what they reference, tags, referrers (the
``subject`` column), upload sessions, repositories with their description, official
and private flags, users, grants, stars, failed sign-ins (shared by every node) and
settings.

WAL mode lets several registry processes (and the ``registry gc`` / ``user``
commands) share the file: readers never wait, writers take the write lock with
``BEGIN IMMEDIATE`` and hold it briefly. Each thread has its own connection.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

DB_NAME = "registry.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS repositories (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    official INTEGER NOT NULL DEFAULT 0,
    private INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS repo_blobs (
    repo TEXT NOT NULL,
    digest TEXT NOT NULL,
    linked REAL NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX IF NOT EXISTS repo_blobs_by_digest ON repo_blobs (digest);
CREATE TABLE IF NOT EXISTS manifests (
    repo TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    subject TEXT,
    artifact_type TEXT,
    annotations TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX IF NOT EXISTS manifests_by_digest ON manifests (digest);
CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repo, subject);
CREATE TABLE IF NOT EXISTS manifest_refs (
    repo TEXT NOT NULL,
    manifest TEXT NOT NULL,
    child TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (repo, manifest, child)
);
CREATE INDEX IF NOT EXISTS manifest_refs_by_child ON manifest_refs (child);
CREATE TABLE IF NOT EXISTS tags (
    repo TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (repo, tag)
);
CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (repo, digest);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    repo TEXT NOT NULL,
    started REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    repo TEXT NOT NULL,
    user TEXT NOT NULL,
    actions TEXT NOT NULL,
    PRIMARY KEY (repo, user)
);
CREATE TABLE IF NOT EXISTS stars (
    repo TEXT NOT NULL,
    user TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (repo, user)
);
CREATE TABLE IF NOT EXISTS signin_failures (
    client TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS signin_failures_by_client ON signin_failures (client, at);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class Metadata:
    """Per-thread SQLite connections to one database file."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, DB_NAME)
        self._local = threading.local()
        self.db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use ``write`` for transactions)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock until it ends."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same state."""
        db = self.db
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def one(self, sql: str, *args: object) -> tuple | None:
        return self.db.execute(sql, args).fetchone()

    def all(self, sql: str, *args: object) -> list[tuple]:
        return self.db.execute(sql, args).fetchall()

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
