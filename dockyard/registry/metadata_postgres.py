"""The shared metadata backend: PostgreSQL through psycopg 3 and a connection pool.

Every registry node of a deployment opens the same database. The SQL the registry
writes is SQLite's dialect; ``_translate`` turns ``?`` into ``%s`` and ``ddl`` maps the
schema's types (REAL -> DOUBLE PRECISION, INTEGER -> BIGINT, BLOB -> BYTEA, TEXT compared
bytewise as SQLite does, for the catalog's and tag list's order).

Transactions run at READ COMMITTED. Row conflicts between concurrent writers are
PostgreSQL's business (upserts are safe); what SQLite's single writer gave for free,
"a push and a gc sweep never interleave", comes from one advisory lock: ``write()``
holds it shared, ``write(exclusive=True)`` (gc's re-check-and-delete batches) exclusive.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool

from dockyard.errors import InvalidArgument
from dockyard.registry.metadata import lock_key, redact

WRITE_LOCK = lock_key("metadata-write")
MIGRATION_LOCK = lock_key("migrations")
# As many connections as threads can use one at once: asyncio's default executor (where
# blocking work runs), the event loop's thread and one for gc. More would only add idle
# server processes; fewer would make the event loop wait for a connection.
POOL_MAX = min(32, (os.cpu_count() or 1) + 4) + 2
CONNECT_TIMEOUT = 30.0

_TYPES = {
    " REAL": " DOUBLE PRECISION",
    " INTEGER": " BIGINT",
    " BLOB": " BYTEA",
    " TEXT": ' TEXT COLLATE "C"',
}
_translated: dict[str, str] = {}


def _translate(sql: str) -> str:
    text = _translated.get(sql)
    if text is None:
        text = _translated[sql] = sql.replace("%", "%%").replace("?", "%s")
    return text


class _Transaction:
    """A psycopg connection inside a transaction, answering as an sqlite3 connection does."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> psycopg.Cursor:
        return self.connection.execute(_translate(sql), tuple(parameters))

    def executemany(self, sql: str, parameters: Any) -> psycopg.Cursor:
        cursor = self.connection.cursor()
        cursor.executemany(_translate(sql), list(parameters))
        return cursor


class PostgresMetadata:
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = redact(url)
        self._local = threading.local()
        self.pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_MAX,
            kwargs={"autocommit": True},
            open=False,
            timeout=CONNECT_TIMEOUT,
            name="dockyard-metadata",
        )
        try:
            self.pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
            self.pool.close()
            raise InvalidArgument(f"cannot connect to {self.url}: {_reason(error)}") from None

    @contextmanager
    def _transaction(self, first: str | None, lock: str | None, key: int) -> Iterator[_Transaction]:
        current = getattr(self._local, "tx", None)
        if current is not None:  # nested: join the thread's transaction
            yield current
            return
        with self.pool.connection() as connection, connection.transaction():
            if first:
                connection.execute(first)
            if lock:
                connection.execute(f"SELECT {lock}(%s)", (key,))
            tx = self._local.tx = _Transaction(connection)
            try:
                yield tx
            finally:
                self._local.tx = None

    def write(self, exclusive: bool = False):
        lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        return self._transaction(None, lock, WRITE_LOCK)

    def snapshot(self):
        return self._transaction(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", None, 0
        )

    def migration_lock(self):
        return self._transaction(None, "pg_advisory_xact_lock", MIGRATION_LOCK)

    def _query(self, sql: str, args: tuple, many: bool) -> Any:
        tx = getattr(self._local, "tx", None)
        if tx is not None:
            cursor = tx.execute(sql, args)
            return cursor.fetchall() if many else cursor.fetchone()
        with self.pool.connection() as connection:
            cursor = connection.execute(_translate(sql), args)
            return cursor.fetchall() if many else cursor.fetchone()

    def one(self, sql: str, *args: object) -> tuple | None:
        return self._query(sql, args, False)

    def all(self, sql: str, *args: object) -> list[tuple]:
        return self._query(sql, args, True)

    @contextmanager
    def try_lock(self, name: str) -> Iterator[bool]:
        """A registry-wide lock (a session advisory lock on one pooled connection): held
        until the block ends or the node dies; not waited for."""
        key = lock_key(name)
        with self.pool.connection() as connection:
            acquired = connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
            try:
                yield bool(acquired)
            finally:
                if acquired:
                    connection.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def ddl(self, statement: str) -> str:
        for sqlite_type, postgres_type in _TYPES.items():
            statement = statement.replace(sqlite_type, postgres_type)
        return statement

    def table_names(self) -> list[str]:
        rows = self.all(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        )
        return [name for (name,) in rows]

    def close(self) -> None:
        self.pool.close()


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__
