"""``dockyard registry migrate --to URL``: copy a registry's metadata to another database.

The way from one node to many: the SQLite file of a single-node registry is copied,
table by table, into a PostgreSQL database (its schema created first), in one
transaction, so a failed copy leaves the target empty. The target must hold no data
yet. Stop the registry (or keep it read-only) while copying: pushes made after the copy
starts are not in the target. Blob bytes stay where they are; moving the storage is a
separate step (docs/scale.md, "Migrating").
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.errors import Conflict, InvalidArgument
from dockyard.registry import migrations
from dockyard.registry.metadata import Metadata

BATCH = 1000


@dataclass
class CopyReport:
    source: str
    target: str
    rows: dict[str, int]

    def lines(self) -> list[str]:
        lines = [f"{table}: {count} rows" for table, count in self.rows.items()]
        lines.append(f"copied {sum(self.rows.values())} rows from {self.source} to {self.target}")
        return lines


def _data_tables(meta: Metadata) -> list[str]:
    return [name for name in meta.table_names() if name != "schema_migrations"]


def copy_metadata(source: Metadata, target: Metadata) -> CopyReport:
    """Copy every table of ``source`` into an empty ``target`` (both at the latest schema)."""
    for meta in (source, target):
        if migrations.current_version(meta) != migrations.LATEST:
            raise InvalidArgument(f"{meta.url} is not at schema version {migrations.LATEST}")
    tables = _data_tables(source)
    missing = sorted(set(tables) - set(_data_tables(target)))
    if missing:
        raise InvalidArgument(f"{target.url} lacks the tables {', '.join(missing)}")
    report = CopyReport(source.url, target.url, {})
    with source.snapshot() as reader, target.write(exclusive=True) as writer:
        for table in tables:
            if writer.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                raise Conflict(f"{target.url} already holds data (table {table}): not copying")
        for table in tables:
            cursor = reader.execute(f"SELECT * FROM {table}")
            columns = [column[0] for column in cursor.description]
            quoted = ", ".join(f'"{name}"' for name in columns)
            insert = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' * len(columns))})"
            count = 0
            while rows := cursor.fetchmany(BATCH):
                writer.executemany(insert, rows)
                count += len(rows)
            report.rows[table] = count
    return report
