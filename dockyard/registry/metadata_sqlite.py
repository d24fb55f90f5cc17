"""The embedded metadata backend: one SQLite file (WAL) shared by the processes of one machine.

Readers never wait; writers take the write lock with ``BEGIN IMMEDIATE`` and hold it
briefly. Each thread has its own connection. Whatever happens once per database (the
switch to WAL, schema migrations) happens under an ``flock`` on ``registry.db.lock``,
so processes started at the same moment on a fresh directory take turns instead of
failing with "database is locked" (a WAL reader upgrading to a writer after another
process changed the schema gets SQLITE_BUSY without the busy handler being asked).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BUSY_TIMEOUT_MS = 30000


@contextmanager
def _flock(path: str, blocking: bool = True) -> Iterator[bool]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


class SqliteMetadata:
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self.path = path
        self.url = f"sqlite://{os.path.abspath(path)}"
        self._local = threading.local()
        with _flock(self._lock_path("init")):
            self.db.execute("PRAGMA journal_mode=WAL")

    def _lock_path(self, name: str) -> str:
        return f"{self.path}.{name}.lock"

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use ``write`` for transactions)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    @contextmanager
    def write(self, exclusive: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock until it ends (there is
        only one writer at a time, so ``exclusive`` changes nothing here)."""
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

    @contextmanager
    def try_lock(self, name: str) -> Iterator[bool]:
        """A lock every process using this file sees; not waited for."""
        with _flock(self._lock_path(name), blocking=False) as acquired:
            yield acquired

    @contextmanager
    def migration_lock(self) -> Iterator[sqlite3.Connection]:
        with _flock(self._lock_path("init")), self.write() as db:
            yield db

    def ddl(self, statement: str) -> str:
        return statement

    def table_names(self) -> list[str]:
        rows = self.all("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [name for (name,) in rows if not name.startswith("sqlite_")]

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
