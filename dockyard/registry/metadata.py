"""Registry metadata: one interface, two backends (SQLite embedded, PostgreSQL shared).

Blob bytes live in the storage driver; everything else lives here: which blobs a
repository may serve, manifests and what they reference, tags, referrers (the
``subject`` column), upload sessions (with the state a driver needs to continue them
on another node), repositories with their description, official and private flags,
users, grants, stars, sign-in failures and settings (the token signing key, gc runs).

The rest of the registry writes SQL in the common dialect (``?`` placeholders,
``INSERT ... ON CONFLICT``, REAL timestamps in seconds, ``"user"`` quoted) and talks
to the database only through this interface:

- ``write()``: a read-write transaction. Writers never interleave with a gc sweep:
  SQLite has one writer at a time (``BEGIN IMMEDIATE``); PostgreSQL writers take a
  shared advisory lock and ``write(exclusive=True)`` (gc) the exclusive one.
- ``snapshot()``: a read transaction in which every query sees the same state.
- ``one()`` / ``all()``: single reads (inside a ``write``/``snapshot`` of the same
  thread they run in that transaction).
- ``try_lock(name)``: a registry-wide lock that is not waited for (one gc at a time).

``metadata_open.open_metadata(url, storage)`` picks the backend: ``postgresql://...`` or SQLite (no
URL: ``registry.db`` in the storage directory; or ``sqlite:///path/registry.db``).
Opening creates the schema when it is absent (see ``migrations``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from dockyard.errors import InvalidArgument

DB_NAME = "registry.db"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Cursor(Protocol):
    rowcount: int
    description: Any

    def fetchmany(self, size: int = ...) -> list[Any]: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Transaction(Protocol):
    """What ``write()`` and ``snapshot()`` yield (an ``sqlite3.Connection`` is one)."""

    def execute(self, sql: str, parameters: Sequence[object] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Any, /) -> Cursor: ...


class Metadata(Protocol):
    url: str  # where the metadata lives, without a password (for messages)
    dialect: str  # "sqlite" or "postgresql"

    def write(self, exclusive: bool = False) -> AbstractContextManager[Transaction]: ...

    def snapshot(self) -> AbstractContextManager[Transaction]: ...

    def one(self, sql: str, *args: object) -> tuple | None: ...

    def all(self, sql: str, *args: object) -> list[tuple]: ...

    def try_lock(self, name: str) -> AbstractContextManager[bool]: ...

    def ddl(self, statement: str) -> str: ...

    def migration_lock(self) -> AbstractContextManager[Transaction]: ...

    def table_names(self) -> list[str]: ...

    def close(self) -> None: ...


def lock_key(name: str) -> int:
    """A signed 64-bit number naming a lock (PostgreSQL advisory locks take one)."""
    return int.from_bytes(
        hashlib.sha256(f"dockyard:{name}".encode()).digest()[:8], "big", signed=True
    )


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.startswith(POSTGRES_SCHEMES)  # type: ignore[union-attr]


def sqlite_path(url: str | None, storage: str | None) -> str:
    """The SQLite file for ``url`` (``sqlite:///abs/path`` or ``sqlite:rel/path``) or, without
    a URL, ``registry.db`` in the storage directory."""
    if url:
        if url.startswith("sqlite://"):
            return url[len("sqlite://") :] or DB_NAME
        if url.startswith("sqlite:"):
            return url[len("sqlite:") :]
        raise InvalidArgument(
            f"unsupported metadata URL {redact(url)!r}: expected postgresql://USER[:PASS]@HOST:PORT/DB "
            "or sqlite:///PATH"
        )
    if not storage or "://" in storage:
        raise InvalidArgument(
            "--metadata postgresql://... (or sqlite:///PATH) is required with this storage"
        )
    return os.path.join(storage, DB_NAME)


def redact(url: str) -> str:
    """``url`` without its password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
