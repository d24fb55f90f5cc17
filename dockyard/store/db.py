"""SQLite metadata: schema, connection settings, one transaction per change."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard.faults import fault_point

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,          -- sha256:<hex> of the config bytes
    parent TEXT,                  -- local parent image (commit), or NULL
    top_chain TEXT,               -- chain ID of the top layer, NULL for an image without layers
    created TEXT NOT NULL,        -- config "created"
    size INTEGER NOT NULL,        -- sum of the layers' content sizes
    added REAL NOT NULL,          -- when this store got the image
    last_tag_time TEXT
);
CREATE INDEX IF NOT EXISTS images_parent ON images(parent);
CREATE INDEX IF NOT EXISTS images_top_chain ON images(top_chain);

CREATE TABLE IF NOT EXISTS refs (
    name TEXT PRIMARY KEY,        -- docker.io/library/busybox:latest or name@sha256:...
    image_id TEXT NOT NULL,
    kind TEXT NOT NULL            -- 'tag' or 'digest'
);
CREATE INDEX IF NOT EXISTS refs_image ON refs(image_id);

CREATE TABLE IF NOT EXISTS layers (
    chain_id TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    parent_chain TEXT,
    dir TEXT NOT NULL,            -- directory name under layers/
    size INTEGER NOT NULL,        -- sum of regular file sizes (Docker's layer size)
    tar_size INTEGER NOT NULL,    -- bytes of the uncompressed tar
    blob TEXT NOT NULL,           -- digest of the kept blob (as received: maybe compressed)
    blob_media_type TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS layers_parent ON layers(parent_chain);
CREATE INDEX IF NOT EXISTS layers_diff ON layers(diff_id);

CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    image_name TEXT NOT NULL,
    top_chain TEXT,               -- keeps the image's layers while the container exists
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS containers_image ON containers(image_id);

CREATE TABLE IF NOT EXISTS compressed_blobs (
    diff_id TEXT NOT NULL,        -- a layer's diff ID
    blob TEXT NOT NULL,           -- a compressed form of it (for push)
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (diff_id, media_type)
);
"""


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=60, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=OFF")
    connection.execute("PRAGMA busy_timeout=60000")
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        with transaction(connection):
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return connection


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE: take the write lock at once so read-then-write cannot race."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    else:
        fault_point("db.before-commit")
        connection.execute("COMMIT")
        fault_point("db.after-commit")
