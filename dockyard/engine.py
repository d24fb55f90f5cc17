"""The Python API: the operations the CLI and the daemon share.

    from dockyard import Engine
    engine = Engine("/var/lib/dockyard")
    engine.import_image("rootfs.tar", "busybox:latest", changes=['CMD ["sh"]'])
    [s.repo_tags for s in engine.images()]

Methods return data (dicts, dataclasses, digests), never printed text.
"""

from __future__ import annotations

import os
from pathlib import Path

from dockyard import reference
from dockyard.digest import Digest
from dockyard.errors import InvalidReference, NotFound
from dockyard.store import Store

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any, BinaryIO

DEFAULT_ROOT = "/var/lib/dockyard"


def default_root() -> str:
    return os.environ.get("DOCKYARD_ROOT") or DEFAULT_ROOT


class Engine:
    def __init__(self, root: str | Path | None = None) -> None:
        self.store = Store.open(root or default_root())

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------ listing and inspection

    def images(
        self, *, all_images: bool = False, filters: dict[str, list[str]] | None = None
    ) -> list:
        """ImageSummary items, newest first (Docker's /images/json)."""
        from dockyard.imageops.listing import list_images

        return list_images(self.store, all_images=all_images, filters=filters)

    def resolve_image(self, name: str) -> Digest:
        from dockyard.imageops.resolve import resolve_image_id

        return resolve_image_id(self.store, name)

    def inspect_image(self, name: str) -> dict[str, Any]:
        from dockyard.imageops.inspect import inspect_image

        return inspect_image(self.store, name)

    def history(self, name: str) -> list[dict[str, Any]]:
        from dockyard.imageops.inspect import image_history

        return image_history(self.store, name)

    # ------------------------------------------------------------ references

    def tag(self, source: str, target: str) -> None:
        try:
            ref = reference.parse(target)
        except InvalidReference as error:
            raise InvalidReference(
                f'Error parsing reference: "{target}" is not a valid repository/tag: {error}'
            ) from None
        if ref.digest is not None:
            raise InvalidReference("refusing to create a tag with a digest reference")
        image_id = self.resolve_image(source)
        self.store.set_tag(ref.with_default_tag(), image_id)

    def remove_image(self, name: str, force: bool = False, prune: bool = True) -> list[dict]:
        """Docker's rmi of one name: [{"Untagged": ...}, {"Deleted": ...}, ...]."""
        from dockyard.imageops.remove import remove_image

        return remove_image(self.store, name, force, prune)

    # ------------------------------------------------------------ import, save, load

    def import_image(
        self,
        source: str | BinaryIO,
        repo_tag: str | None = None,
        message: str | None = None,
        changes: list[str] | None = None,
    ) -> Digest:
        from dockyard.imageops.importer import import_image

        return import_image(self.store, source, repo_tag, message, changes)

    def save(self, names: list[str], out: BinaryIO) -> None:
        from dockyard.imageops.archive import save_images

        save_images(self.store, names, out)

    def load(self, source: Path | BinaryIO, progress=None, on_line=None):  # type: ignore[no-untyped-def]
        """Load an archive; returns a LoadReport (lines as Docker prints them, image IDs).
        ``progress(short_id, done, total)`` and ``on_line(text)`` report as it goes."""
        from dockyard.imageops.archive import load_images

        return load_images(self.store, source, progress, on_line)

    # ------------------------------------------------------------ registries

    def pull(self, name: str, **options: Any) -> list:
        """Pull from a registry (options: all_tags, platform, events, config, auth)."""
        from dockyard.imageops.pull import pull

        return pull(self.store, name, **options)

    def push(self, name: str, **options: Any) -> list:
        """Push to a registry (options: all_tags, compression, events, config, auth)."""
        from dockyard.imageops.push import push

        return push(self.store, name, **options)

    def search(self, term: str, **options: Any) -> list:
        """Docker Hub-style search of an index (options: limit, filters, config, auth)."""
        from dockyard.imageops.search import search

        return search(term, **options)

    def login(self, server: str | None, username: str, password: str) -> Any:
        """Check credentials with the registry and store them in Docker's config.json."""
        from dockyard.client.login import login

        return login(server, username, password)

    # ------------------------------------------------------------ containers

    def commit(self, container: str, repo_tag: str | None = None, **options: Any) -> Digest:
        """Commit a container's changes as a new image (options: author, message, changes,
        pause)."""
        from dockyard.containers.commit import CommitOptions, commit_container

        return commit_container(self.store, container, CommitOptions(repo_tag, **options))

    # ------------------------------------------------------------ housekeeping

    def prune_images(self, all_images: bool = False):  # type: ignore[no-untyped-def]
        from dockyard.imageops.prune import prune_images

        return prune_images(self.store, all_images)

    def check(self, repair: bool = False):  # type: ignore[no-untyped-def]
        from dockyard.imageops.check import check_store

        return check_store(self.store, repair)

    def disk_usage(self) -> dict[str, Any]:
        from dockyard.imageops.df import disk_usage

        return disk_usage(self.store)


__all__ = ["Engine", "NotFound", "default_root"]
