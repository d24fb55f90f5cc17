"""Versioned schema migrations, the same list for SQLite and PostgreSQL.

The table ``schema_migrations`` records each version applied. ``ensure`` (every open)
creates the schema when it is absent and, for the embedded SQLite default, upgrades it;
a PostgreSQL database shared by many nodes is upgraded only by an explicit
``dockyard registry migrate --metadata URL``. Migrations run in one transaction under
the backend's migration lock (an flock for SQLite, an advisory lock for PostgreSQL), so
nodes started together never race to create the schema.

Adding a table or a column (another part of the registry, an automated-builds table...):
append ``Migration(<next version>, "what it adds", (statements...))`` to ``MIGRATIONS``;
never edit or reorder an applied one. Write the statements in SQLite's dialect with the
types TEXT, INTEGER (64-bit in PostgreSQL), REAL (seconds since the epoch) and BLOB; the
backend maps them (``Metadata.ddl``). Quote ``"user"`` (a reserved word in PostgreSQL).
``tests/registry/test_registry_metadata.py`` checks a fresh database of both backends
against the list.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dockyard.errors import DockyardError
from dockyard.registry.metadata import Metadata


class SchemaError(DockyardError):
    """The database's schema is newer than this code, or older and not to be upgraded here."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


BASE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS blobs (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created REAL NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS repositories (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    official INTEGER NOT NULL DEFAULT 0,
    private INTEGER NOT NULL DEFAULT 0
)""",
    """CREATE TABLE IF NOT EXISTS repo_blobs (
    repo TEXT NOT NULL,
    digest TEXT NOT NULL,
    linked REAL NOT NULL,
    PRIMARY KEY (repo, digest)
)""",
    "CREATE INDEX IF NOT EXISTS repo_blobs_by_digest ON repo_blobs (digest)",
    """CREATE TABLE IF NOT EXISTS manifests (
    repo TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    subject TEXT,
    artifact_type TEXT,
    annotations TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (repo, digest)
)""",
    "CREATE INDEX IF NOT EXISTS manifests_by_digest ON manifests (digest)",
    "CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repo, subject)",
    """CREATE TABLE IF NOT EXISTS manifest_refs (
    repo TEXT NOT NULL,
    manifest TEXT NOT NULL,
    child TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (repo, manifest, child)
)""",
    "CREATE INDEX IF NOT EXISTS manifest_refs_by_child ON manifest_refs (child)",
    """CREATE TABLE IF NOT EXISTS tags (
    repo TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (repo, tag)
)""",
    "CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (repo, digest)",
    """CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    repo TEXT NOT NULL,
    started REAL NOT NULL,
    updated REAL NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS grants (
    repo TEXT NOT NULL,
    "user" TEXT NOT NULL,
    actions TEXT NOT NULL,
    PRIMARY KEY (repo, "user")
)""",
    """CREATE TABLE IF NOT EXISTS stars (
    repo TEXT NOT NULL,
    "user" TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (repo, "user")
)""",
    """CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)""",
)

MIGRATIONS: tuple[Migration, ...] = (
    # IF NOT EXISTS: registries from before versioning already have these tables.
    Migration(1, "base schema", BASE_SCHEMA),
    Migration(
        2,
        "upload state that lets another node continue an upload",
        (
            "ALTER TABLE uploads ADD COLUMN size INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE uploads ADD COLUMN driver_state TEXT",
            "ALTER TABLE uploads ADD COLUMN hash_state BLOB",
        ),
    ),
    Migration(
        3,
        "failed sign-ins, shared by every node for rate limiting",
        (
            """CREATE TABLE IF NOT EXISTS signin_failures (
    client TEXT NOT NULL,
    at REAL NOT NULL
)""",
            "CREATE INDEX IF NOT EXISTS signin_failures_by_client ON signin_failures (client, at)",
        ),
    ),
    Migration(
        4,
        "automated builds: a repository's source, and its last build's status and log",
        (
            """CREATE TABLE IF NOT EXISTS automated_builds (
    repo TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    dockerfile TEXT NOT NULL DEFAULT 'Dockerfile',
    tag TEXT NOT NULL DEFAULT 'latest',
    network TEXT NOT NULL DEFAULT 'none',
    status TEXT NOT NULL DEFAULT 'never built',
    log TEXT NOT NULL DEFAULT '',
    started REAL,
    finished REAL,
    image TEXT NOT NULL DEFAULT ''
)""",
        ),
    ),
)
LATEST = MIGRATIONS[-1].version

VERSIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied REAL NOT NULL
)"""


def current_version(meta: Metadata) -> int | None:
    """The newest version applied; None when the database has no versioned schema yet."""
    try:
        row = meta.one("SELECT MAX(version) FROM schema_migrations")
    except Exception:  # noqa: BLE001 - "no such table", in either backend's words
        return None
    return row[0] if row and row[0] is not None else None


def migrate(meta: Metadata, upgrade: bool = True) -> list[Migration]:
    """Apply what is missing (all of it on an empty database); the migrations applied.

    With ``upgrade=False`` an existing older schema is left alone and SchemaError raised.
    """
    if current_version(meta) == LATEST:
        return []
    with meta.migration_lock() as db:
        db.execute(meta.ddl(VERSIONS_TABLE))
        applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        newest = max(applied, default=0)
        if newest > LATEST:
            raise SchemaError(
                f"the metadata schema in {meta.url} is at version {newest}, newer than this "
                f"dockyard knows ({LATEST}): upgrade dockyard"
            )
        pending = [m for m in MIGRATIONS if m.version not in applied]
        if pending and applied and not upgrade:
            raise SchemaError(
                f"the metadata schema in {meta.url} is at version {newest}, this dockyard needs "
                f"{LATEST}: run `dockyard registry migrate --metadata URL`"
            )
        for migration in pending:
            for statement in migration.statements:
                db.execute(meta.ddl(statement))
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
    return pending


def ensure(meta: Metadata) -> list[Migration]:
    """Create an absent schema; upgrade an old one only where the database is embedded."""
    return migrate(meta, upgrade=meta.dialect == "sqlite")
