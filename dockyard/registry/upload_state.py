"""What a node needs to continue an upload another node started, kept in the metadata.

A storage driver that cannot append to an object (S3: multipart uploads with 5 MiB
parts) keeps its own state per session: the multipart upload id, the parts written
with their ETags, the bytes buffered below the minimum part size... That state, the
session's size and the serialized running hash go in the session's ``uploads`` row,
so the next PATCH may land on any node. ``save`` is a compare-and-set on the size: of
two nodes continuing the same session at once, one wins and the other is told so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from dockyard.registry.metadata import Metadata


@dataclass(frozen=True)
class UploadState:
    upload_id: str
    repo: str
    size: int
    driver_state: dict[str, Any] | None
    hash_state: bytes | None


def load(meta: Metadata, upload_id: str) -> UploadState | None:
    row = meta.one(
        "SELECT repo, size, driver_state, hash_state FROM uploads WHERE id = ?", upload_id
    )
    if row is None:
        return None
    repo, size, driver_state, hash_state = row
    return UploadState(
        upload_id,
        repo,
        size,
        json.loads(driver_state) if driver_state else None,
        bytes(hash_state) if hash_state is not None else None,
    )


def save(
    meta: Metadata,
    upload_id: str,
    size: int,
    driver_state: dict[str, Any] | None,
    hash_state: bytes | None,
    expected_size: int | None = None,
) -> bool:
    """Record the session's new state; False when the session is gone or (with
    ``expected_size``) another request moved it on first."""
    sql = "UPDATE uploads SET size = ?, driver_state = ?, hash_state = ?, updated = ? WHERE id = ?"
    args: list[object] = [
        size,
        json.dumps(driver_state, separators=(",", ":")) if driver_state is not None else None,
        hash_state,
        time.time(),
        upload_id,
    ]
    if expected_size is not None:
        sql += " AND size = ?"
        args.append(expected_size)
    with meta.write() as db:
        return db.execute(sql, args).rowcount == 1
