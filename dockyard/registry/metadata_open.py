"""Opening the registry's metadata: the backend a URL names, its schema ensured.

Apart from ``metadata`` (the interface both backends implement), so that the
backends and the migrations can import the interface without a cycle.
"""

from __future__ import annotations

from dockyard.registry import migrations
from dockyard.registry.metadata import Metadata, is_postgres_url, sqlite_path
from dockyard.registry.metadata_postgres import PostgresMetadata
from dockyard.registry.metadata_sqlite import SqliteMetadata


def open_metadata(url: str | None, storage: str | None, create: bool = True) -> Metadata:
    """The metadata backend ``url`` names (default: SQLite in ``storage``), its schema
    created when absent and, for SQLite, upgraded when older than this code's."""
    meta: Metadata
    if is_postgres_url(url):
        meta = PostgresMetadata(url)  # type: ignore[arg-type]
    else:
        meta = SqliteMetadata(sqlite_path(url, storage))
    if create:
        try:
            migrations.ensure(meta)
        except BaseException:
            meta.close()
            raise
    return meta
