"""`engine.images`: the image verbs of the local store (and its registries).

Each method imports the module that does the work when it is called: the CLI's
everyday commands must not pay for the others (start-up time).
"""

from __future__ import annotations

from dockyard import reference
from dockyard.errors import InvalidReference

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import Any, BinaryIO

    from dockyard.client.daemonconfig import DaemonConfig
    from dockyard.client.events import Events
    from dockyard.digest import Digest
    from dockyard.imageops.archive import LoadReport
    from dockyard.imageops.listing import ImageSummary
    from dockyard.imageops.prune import PruneReport
    from dockyard.imageops.pull import PullResult
    from dockyard.imageops.push import PushResult
    from dockyard.imageops.search import SearchResult
    from dockyard.store import Store
    from dockyard.store.records import ImageRecord


class Images:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------ build

    def build(
        self,
        context: str | Path | BinaryIO,
        *,
        dockerfile: str | None = None,
        tags: builtins.list[str] | None = None,
        build_args: dict[str, str | None] | None = None,
        target: str | None = None,
        no_cache: bool = False,
        labels: dict[str, str] | None = None,
        network: str = "none",
        remove: bool = True,
        force_remove: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Build an image from a Dockerfile, as Docker 20.10's classic builder does.

        context: a directory (dockerfile: a path, default CONTEXT/Dockerfile) or a binary
        stream holding a context tar or a lone Dockerfile (dockerfile: its name in the
        tar). Yields Docker's build messages: {"stream": text} for the output,
        {"aux": {"ID": image}} at the end of each stage; a failed step raises
        dockyard.build.builder.BuildError (its ``code``: the exit status)."""
        import os

        from dockyard.build import context as contexts
        from dockyard.build.builder import BuildOptions
        from dockyard.build.builder import build as run_build
        from dockyard.engine.containers import Containers

        options = BuildOptions(
            tags=list(tags or []), build_args=dict(build_args or {}), target=target,
            no_cache=no_cache, labels=dict(labels or {}), network=network, remove=remove,
            force_remove=force_remove,
        )  # fmt: skip
        work = str(self.store.tmp)
        if isinstance(context, (str, os.PathLike)):
            made = contexts.from_directory(str(context), dockerfile, None, work)
        else:
            made = contexts.from_tar(context, dockerfile, work)
        with made:
            yield from run_build(self.store, made, options, self, Containers(self.store))

    # ------------------------------------------------------------ listing and inspection

    def list(
        self, *, all: bool = False, filters: dict[str, builtins.list[str]] | None = None
    ) -> builtins.list[ImageSummary]:
        """ImageSummary records, newest first (Docker's /images/json); `all` adds the
        untagged intermediate images. filters: dangling, reference, before, since, label."""
        from dockyard.imageops.listing import list_images

        return list_images(self.store, all_images=all, filters=filters)

    def resolve(self, name: str) -> Digest:
        """The image ID a name, a short ID or a digest reference stands for."""
        from dockyard.imageops.resolve import resolve_image_id

        return resolve_image_id(self.store, name)

    def get(self, name: str) -> ImageRecord:
        """The store's record of an image: id, parent, layers, size, parsed config."""
        return self.store.image(self.resolve(name))

    def inspect(self, name: str) -> dict[str, Any]:
        """Docker's inspect document of one image."""
        from dockyard.imageops.inspect import inspect_image

        return inspect_image(self.store, name)

    def history(self, name: str) -> builtins.list[dict[str, Any]]:
        """Docker's /images/{name}/history items, newest first."""
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
        image_id = self.resolve(source)
        self.store.set_tag(ref.with_default_tag(), image_id)

    def remove(
        self, name: str, *, force: bool = False, prune: bool = True
    ) -> builtins.list[dict[str, str]]:
        """Docker's rmi of one name: [{"Untagged": ...}, {"Deleted": ...}, ...]."""
        from dockyard.imageops.remove import remove_image

        return remove_image(self.store, name, force, prune)

    def prune(self, *, all: bool = False) -> PruneReport:
        """Remove dangling images (with `all`, every image no container uses)."""
        from dockyard.imageops.prune import prune_images

        return prune_images(self.store, all)

    # ------------------------------------------------------------ import, save, load

    def import_(
        self,
        source: str | BinaryIO,
        repository: str | None = None,
        *,
        message: str | None = None,
        changes: builtins.list[str] | None = None,
    ) -> Digest:
        """A flat rootfs tar (path, URL or open binary file) as a one-layer image."""
        from dockyard.imageops.importer import import_image

        return import_image(self.store, source, repository, message, changes)

    def save(self, names: builtins.list[str], out: BinaryIO) -> None:
        """A docker-archive of the images (Docker 25 layout) written to out."""
        from dockyard.imageops.archive import save_images

        save_images(self.store, names, out)

    def load(
        self,
        source: Path | BinaryIO,
        *,
        progress: Callable[[str, int, int], None] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> LoadReport:
        """Load a docker-archive (Docker 25 or older, plain or compressed).
        ``progress(short_id, done, total)`` and ``on_line(text)`` report as it goes."""
        from dockyard.imageops.archive import load_images

        return load_images(self.store, source, progress, on_line)

    # ------------------------------------------------------------ registries

    def pull(
        self,
        name: str,
        *,
        all_tags: bool = False,
        platform: str | None = None,
        events: Events | None = None,
        config: DaemonConfig | None = None,
        auth: dict[str, Any] | None = None,
    ) -> builtins.list[PullResult]:
        """Pull from a registry. auth: an Engine API AuthConfig used instead of the
        credentials in config.json; events: progress reports (dockyard.client.events)."""
        from dockyard.imageops.pull import pull

        return pull(
            self.store,
            name,
            events=events,
            all_tags=all_tags,
            platform=platform,
            config=config,
            auth=auth,
        )

    def push(
        self,
        name: str,
        *,
        all_tags: bool = False,
        compression: str | None = None,
        events: Events | None = None,
        config: DaemonConfig | None = None,
        auth: dict[str, Any] | None = None,
    ) -> builtins.list[PushResult]:
        """Push to a registry (compression: gzip or zstd for layers made here)."""
        from dockyard.imageops.push import push

        return push(
            self.store,
            name,
            events=events,
            all_tags=all_tags,
            compression=compression,
            config=config,
            auth=auth,
        )

    def search(
        self,
        term: str,
        *,
        limit: int | None = None,
        filters: builtins.list[str] | None = None,
        config: DaemonConfig | None = None,
        auth: dict[str, Any] | None = None,
    ) -> builtins.list[SearchResult]:
        """Docker Hub-style search of an index (filters: stars=N, is-official=true, ...)."""
        from dockyard.imageops.search import DEFAULT_LIMIT, search

        return search(term, DEFAULT_LIMIT if limit is None else limit, filters, config, auth)
