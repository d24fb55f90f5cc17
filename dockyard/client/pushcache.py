"""Which repositories of a registry are known to hold a blob: a small table in the
store's SQLite database, written after each push and pull, read to choose a
cross-repository mount source."""

from __future__ import annotations

import sqlite3
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS registry_blobs (
    registry TEXT NOT NULL,       -- host[:port]
    repository TEXT NOT NULL,     -- path inside the registry: library/busybox
    digest TEXT NOT NULL,         -- a blob that repository holds
    seen REAL NOT NULL,
    PRIMARY KEY (registry, digest, repository)
)
"""


def _ensure(connection: sqlite3.Connection) -> None:
    connection.execute(SCHEMA)  # IF NOT EXISTS: microseconds, and right for any database


def repositories_with(connection: sqlite3.Connection, registry: str, digest: str) -> list[str]:
    _ensure(connection)
    rows = connection.execute(
        "SELECT repository FROM registry_blobs WHERE registry = ? AND digest = ?"
        " ORDER BY seen DESC",
        (registry, digest),
    ).fetchall()
    return [row[0] for row in rows]


def remember(
    connection: sqlite3.Connection, registry: str, repository: str, digests: list[str]
) -> None:
    _ensure(connection)
    now = time.time()
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.executemany(
            "INSERT OR REPLACE INTO registry_blobs (registry, repository, digest, seen)"
            " VALUES (?, ?, ?, ?)",
            [(registry, repository, digest, now) for digest in digests],
        )
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
