"""`ps`: the containers with Docker's columns and filters, as data."""

from __future__ import annotations

import re
import time
from pathlib import Path

from dockyard.containers import record as records
from dockyard.containers.create import container_dir
from dockyard.datarecord import dataclass
from dockyard.errors import InvalidArgument
from dockyard.runtime.state import ContainerState, read_state
from dockyard.store import ContainerRow, Store
from dockyard.timeutil import parse_rfc3339_or_zero as parse_rfc3339

FILTER_KEYS = ("status", "name", "id", "ancestor", "exited", "label", "before", "since")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


@dataclass
class ContainerSummary:
    row: ContainerRow
    record: records.ContainerRecord
    state: ContainerState
    directory: Path

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def created(self) -> float:
        return parse_rfc3339(self.record.created) or self.row.created


def upper_size(directory: Path) -> int:
    """SizeRw: bytes in the container's upper directory, as overlay2's DiffSize counts them
    (lstat sizes of everything but directories, a hard-linked file once)."""
    import os

    total = 0
    seen: set[tuple[int, int]] = set()
    for parent, dirs, files in os.walk(directory / "upper"):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(parent, d))]:
            try:
                info = os.lstat(os.path.join(parent, name))
            except OSError:
                continue
            if info.st_size == 0 or (info.st_dev, info.st_ino) in seen:
                continue
            if info.st_nlink > 1:
                seen.add((info.st_dev, info.st_ino))
            total += info.st_size
    return total


def container_sizes(store: Store, summary: ContainerSummary) -> tuple[int, int]:
    """(SizeRw, SizeRootFs): the upper directory, and that plus the image's layers."""
    from dockyard.digest import Digest

    size_rw = upper_size(summary.directory)
    try:
        image_size = store.image(Digest.parse(summary.record.image)).size
    except Exception:  # noqa: BLE001 - the image was removed (rmi -f): no layers to add
        image_size = 0
    return size_rw, size_rw + image_size


def command_text(record: records.ContainerRecord) -> str:
    """Docker's Command: path then args, args holding a space wrapped in single quotes."""
    if not record.args:
        return record.path
    args = [f"'{arg}'" if " " in arg else arg for arg in record.args]
    return f"{record.path} {' '.join(args)}"


def image_text(store: Store, summary: ContainerSummary) -> str:
    """The name the container was created with while it still names the same image, else the short ID."""
    from dockyard.imageops.resolve import resolve_image_id

    name = summary.record.image_name
    try:
        if name and str(resolve_image_id(store, name)) == summary.record.image:
            return name
    except Exception:  # noqa: BLE001 - an unresolvable name means "show the ID"
        pass
    return summary.record.image.split(":", 1)[-1][:12]


def status_text(state: ContainerState, now: float | None = None) -> str:
    from dockyard.humanize import human_duration

    now = time.time() if now is None else now
    if state.status == "created":
        return "Created"
    if state.running:
        started = parse_rfc3339(state.started_at) or now
        text = f"Up {human_duration(now - started)}"
        return text + " (Paused)" if state.paused else text
    if state.status == "dead":
        return "Dead"
    finished = parse_rfc3339(state.finished_at)
    if finished is None:
        return f"Exited ({state.exit_code})"
    return f"Exited ({state.exit_code}) {human_duration(now - finished)} ago"


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidArgument("bad format of filter (expected name=value)")
        key = key.strip().lower()
        if key not in FILTER_KEYS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "status" and value not in STATUSES:
            raise InvalidArgument(f"invalid filter 'status={value}'")
        filters.setdefault(key, []).append(value)
    return filters


def _ancestors(store: Store, image_id: str) -> set[str]:
    seen: set[str] = set()
    current: str | None = image_id
    while current and current not in seen:
        seen.add(current)
        row = store.db.execute("SELECT parent FROM images WHERE id = ?", (current,)).fetchone()
        current = row[0] if row else None
    return seen


def _matches(store: Store, summary: ContainerSummary, filters: dict[str, list[str]]) -> bool:
    from dockyard.imageops.resolve import resolve_image_id

    record, state = summary.record, summary.state
    if "status" in filters and state.status not in filters["status"]:
        return False
    if "name" in filters and not any(re.search(p, summary.name) for p in filters["name"]):
        return False
    if "id" in filters and not any(record.id.startswith(p) for p in filters["id"]):
        return False
    if "exited" in filters:
        if state.status != "exited" or str(state.exit_code) not in filters["exited"]:
            return False
    if "label" in filters:
        labels = record.config.get("Labels") or {}
        for wanted in filters["label"]:
            key, sep, value = wanted.partition("=")
            if key not in labels or (sep and labels[key] != value):
                return False
    if "ancestor" in filters:
        lineage = _ancestors(store, record.image)
        ok = False
        for text in filters["ancestor"]:
            try:
                if str(resolve_image_id(store, text)) in lineage:
                    ok = True
            except Exception:  # noqa: BLE001
                continue
        if not ok:
            return False
    return True


def list_containers(
    store: Store,
    *,
    all_containers: bool = False,
    last: int = -1,
    filters: dict[str, list[str]] | None = None,
) -> list[ContainerSummary]:
    """Newest first. Without all_containers, only running ones (unless -n/-l or filters say)."""
    filters = filters or {}
    summaries = []
    for row in store.list_containers():
        directory = container_dir(store, row.id)
        try:
            record = records.load(directory)
        except (OSError, ValueError):
            continue
        summaries.append(ContainerSummary(row, record, read_state(directory), directory))
    summaries.sort(key=lambda s: s.created, reverse=True)
    show_all = all_containers or last > 0 or bool(filters)
    if not show_all:
        summaries = [s for s in summaries if s.state.running]
    summaries = [s for s in summaries if _matches(store, s, filters)]
    if filters.get("before") or filters.get("since"):
        summaries = _before_since(
            store, summaries, filters.get("before") or [], filters.get("since") or []
        )
    if last > 0:
        summaries = summaries[:last]
    return summaries


def _before_since(
    store: Store, summaries: list[ContainerSummary], before: list[str], since: list[str]
) -> list[ContainerSummary]:
    """Created before the oldest of `before`, after the newest of `since` (names or IDs)."""

    def created_of(text: str) -> float:
        row = store.find_container(text)
        for summary in summaries:
            if summary.id == row.id:
                return summary.created
        return row.created

    if before:
        limit = min(created_of(text) for text in before)
        summaries = [s for s in summaries if s.created < limit]
    if since:
        limit = max(created_of(text) for text in since)
        summaries = [s for s in summaries if s.created > limit]
    return summaries
