"""Opening the registry's metadata: the backend a URL names, its schema ensured.

Apart from ``metadata`` (the interface both backends implement), so that the
backends and the migrations can import the interface without a cycle. Only the
backend chosen is imported: a backend choice, not a start-up trick.
"""

from __future__ import annotations

from dockyard.registry import migrations
from dockyard.registry.metadata import Metadata, is_postgres_url, sqlite_path


def open_metadata(url: str | None, storage: str | None, create: bool = True) -> Metadata:
    """The metadata backend ``url`` names (default: SQLite in ``storage``), its schema
    created when absent and, for SQLite, upgraded when older than this code's."""
    meta: Metadata
    if is_postgres_url(url):
        from dockyard.registry.metadata_postgres import PostgresMetadata  # psycopg: 0.2 s

        meta = PostgresMetadata(url)  # type: ignore[arg-type]
    else:
        from dockyard.registry.metadata_sqlite import SqliteMetadata

        meta = SqliteMetadata(sqlite_path(url, storage))
    if create:
        try:
            migrations.ensure(meta)
        except BaseException:
            meta.close()
            raise
    return meta
