"""`images`: the summaries Docker's /images/json returns, with its filters."""

from __future__ import annotations

import fnmatch

from dockyard import reference
from dockyard.datarecord import dataclass, field
from dockyard.digest import Digest
from dockyard.errors import InvalidArgument
from dockyard.imageops.resolve import resolve_image_id
from dockyard.store import Store
from dockyard.timeutil import parse_rfc3339_or_zero

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

FILTER_NAMES = ("dangling", "reference", "before", "since", "label")


@dataclass
class ImageSummary:
    id: str
    parent_id: str
    repo_tags: list[str]  # familiar names, sorted
    repo_digests: list[str]
    created: float
    size: int
    labels: dict[str, str]
    containers: int = -1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {
            "Containers": self.containers,
            "Created": int(self.created),
            "Id": self.id,
            "Labels": self.labels or None,
            "ParentId": self.parent_id,
            "RepoDigests": self.repo_digests,
            "RepoTags": self.repo_tags,
            "SharedSize": -1,
            "Size": self.size,
            "VirtualSize": self.size,
        }


def parse_filters(values: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for value in values:
        key, sep, arg = value.partition("=")
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {value}")
        key = key.strip().lower()
        if key not in FILTER_NAMES:
            raise InvalidArgument(f"invalid filter '{key}'")
        filters.setdefault(key, []).append(arg)
    return filters


def _matching_names(patterns: list[str], names: list[str]) -> list[str]:
    """The references that match a reference filter (Docker lists only those names)."""
    matching = []
    for name_text in names:
        ref = reference.parse(name_text)
        name = ref.familiar_name
        if any(
            fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(ref.familiar(), pattern)
            for pattern in patterns
        ):
            matching.append(name_text)
    return matching


def _labels_match(patterns: list[str], labels: dict[str, str]) -> bool:
    for pattern in patterns:
        key, sep, value = pattern.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def list_images(
    store: Store, *, all_images: bool = False, filters: dict[str, list[str]] | None = None
) -> list[ImageSummary]:
    filters = filters or {}
    refs_by_image: dict[str, tuple[list[str], list[str]]] = {}
    for name, image_id, kind in store.all_refs():
        tags, digests = refs_by_image.setdefault(image_id, ([], []))
        (tags if kind == "tag" else digests).append(reference.familiar(name))
    rows = store.image_rows()
    parents = {row[1] for row in rows if row[1]}
    created_of = {row[0]: parse_rfc3339_or_zero(row[3]) for row in rows}

    def bound(name: str) -> float:
        return created_of[str(resolve_image_id(store, name))]

    before = min((bound(v) for v in filters.get("before", [])), default=None)
    since = max((bound(v) for v in filters.get("since", [])), default=None)
    dangling_values = {v.lower() for v in filters.get("dangling", [])}
    if dangling_values - {"true", "false", "1", "0"}:
        raise InvalidArgument(f"Invalid filter 'dangling={sorted(dangling_values)[0]}'")
    want_dangling = None
    if dangling_values:
        want_dangling = bool(dangling_values & {"true", "1"})

    summaries: list[ImageSummary] = []
    for image_id, parent, _top, _created, size, _added, _ltt in rows:
        tags, digests = refs_by_image.get(image_id, ([], []))
        created = created_of[image_id]
        if before is not None and created >= before:
            continue
        if since is not None and created <= since:
            continue
        if want_dangling is not None and (not tags) != want_dangling:
            continue
        if "reference" in filters:
            tags = _matching_names(filters["reference"], tags)
            digests = _matching_names(filters["reference"], digests)
            if not tags and not digests:
                continue
        if not tags and not digests and not all_images and image_id in parents:
            continue  # an intermediate parent of a tagged child: shown with -a only
        labels: dict[str, str] = {}
        if "label" in filters:
            labels = store.config(Digest.parse(image_id)).config.get("Labels") or {}
            if not _labels_match(filters["label"], labels):
                continue
        summaries.append(
            ImageSummary(
                image_id, parent or "", sorted(tags), sorted(digests), created, size, labels
            )
        )
    summaries.sort(key=lambda s: s.created, reverse=True)
    return summaries
