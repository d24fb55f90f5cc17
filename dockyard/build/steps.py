"""The builder's hands: containers for RUN (and for COPY/ADD/WORKDIR trees), commits.

Containers are created, started, committed and removed through engine.containers, as
`dockyard run` and `dockyard commit` are (handed in by the caller as ``containers``:
the engine sits above the builder, whose ``engine.images.build`` runs it); a COPY/ADD/WORKDIR step writes into the
container's tree (containers.copy.writable_view, the `cp` rule); a step that changes
only the config, or one on `scratch`, is committed without a container
(containers.commit.commit_tree): Docker's result is the same image."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from dockyard.digest import Digest
from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Generator, Iterator
    from typing import Any

    from dockyard.store import Store


class StepFailed(DockyardError):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def create(
    containers: Any,
    image: Digest,
    command: list[str],
    *,
    env: list[str] | None = None,
    user: str = "",
    workdir: str = "",
    network: str = "none",
    volumes: list[str] | None = None,
) -> str:
    record = containers.create(
        str(image),
        command,
        entrypoint="",
        env=list(env or []),
        user=user,
        workdir=workdir or None,
        network=network,
        volumes=list(volumes or []),
        attach=True,
    )
    return record.id


def run(containers: Any, container: str) -> Generator[tuple[bool, bytes], None, int]:
    """Start the container; yield its output as it comes ((is stderr, bytes)); return its
    exit code."""
    from dockyard.runtime import stream

    started = containers.start(container, attach=True)
    if started is None or started.client is None:
        raise StepFailed("the build container did not start", 1)
    sock = started.client
    reader = stream.FrameReader()
    try:
        sock.sendall(
            stream.control({"type": "hello", "stdin": False, "stdout": True, "stderr": True})
        )
    except OSError:
        pass
    code: int | None = None
    try:
        while code is None:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                break
            for kind, payload in reader.feed(data):
                if kind in (stream.STDOUT, stream.STDERR):
                    yield kind == stream.STDERR, payload
                elif kind == stream.CONTROL:
                    import json

                    message = json.loads(payload)
                    if message.get("type") == "exit":
                        code = int(message.get("code", 0))
    finally:
        sock.close()
    if code is None:
        code = containers.wait(container, timeout=30)
    return int(code or 0)


def remove(containers: Any, container: str) -> None:
    containers.remove(container, force=True)


@contextlib.contextmanager
def tree_of(store: Store, container: str) -> Iterator[str]:
    """The container's filesystem, writable, for COPY/ADD/WORKDIR."""
    from dockyard.containers.copy import writable_view
    from dockyard.containers.lifecycle import find

    _, directory = find(store, container)
    with writable_view(directory) as view:
        yield str(view)


@contextlib.contextmanager
def scratch_tree(store: Store) -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="build-scratch-", dir=store.tmp)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def commit(
    containers: Any,
    container: str,
    *,
    config: dict[str, Any],
    run_config: dict[str, Any],
    created_by: str,
    author: str,
) -> Digest:
    return containers.commit(
        container,
        author=author,
        config=config,
        container_config=run_config,
        created_by=created_by,
        empty_if_unchanged=True,
        pause=False,
    )


def commit_tree(
    store: Store,
    parent: Digest | None,
    tree: str | None,
    *,
    config: dict[str, Any],
    run_config: dict[str, Any],
    created_by: str,
    author: str,
) -> Digest:
    from dockyard.containers.commit import CommitOptions
    from dockyard.containers.commit import commit_tree as commit_directory

    return commit_directory(
        store,
        parent,
        tree,
        CommitOptions(
            author=author, config=config, container_config=run_config, created_by=created_by
        ),
    )


def ensure_dir(path: str) -> None:
    os.makedirs(path, exist_ok=True)
