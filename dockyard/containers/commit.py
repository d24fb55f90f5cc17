"""`commit`: the container's upper directory becomes a new layer on top of its image.

The store walks the upper directory once, writing the layer tar (overlay
whiteouts become .wh. entries) and copying the files into the new layer's
directory from the same bytes (dockyard/layers/snapshot.py).
"""

from __future__ import annotations

import fcntl
from typing import Any

from dockyard import reference
from dockyard.containers import record as records
from dockyard.containers.lifecycle import find
from dockyard.datarecord import dataclass, field
from dockyard.digest import Digest
from dockyard.errors import InvalidArgument, InvalidReference
from dockyard.runtime.rootfs import ENGINE_FILES
from dockyard.runtime.state import read_state
from dockyard.store import Store


@dataclass
class CommitOptions:
    repo_tag: str | None = None
    author: str = ""
    message: str = ""
    changes: list[str] = field(default_factory=list)
    pause: bool = True
    # The builder's commits (dockyard/build): the image's Config and ContainerConfig as
    # Docker's classic builder sets them, the history text, and an unchanged container
    # recorded as an empty_layer step (no diff ID), as Docker records it.
    config: dict[str, Any] | None = None
    container_config: dict[str, Any] | None = None
    created_by: str | None = None
    empty_if_unchanged: bool = False


def _reference(text: str | None) -> reference.Reference | None:
    if not text:
        return None
    ref = reference.parse(text)
    if ref.digest is not None:
        raise InvalidReference("invalid reference format")
    return ref.with_default_tag()


def image_config(
    parent: dict[str, Any],
    record: records.ContainerRecord,
    options: CommitOptions,
    diff_id: str,
    created: str,
) -> dict[str, Any]:
    from dockyard.containers.hostconfig import container_config
    from dockyard.imageops.changes import apply_changes
    from dockyard.imageops.configs import DOCKER_VERSION, host_architecture

    history = list(parent.get("history") or [])
    entry: dict[str, Any] = {"created": created}
    if options.author:
        entry["author"] = options.author
    entry["created_by"] = (
        options.created_by if options.created_by is not None else " ".join(record.command)
    )
    if options.message:
        entry["comment"] = options.message
    diff_ids = list((parent.get("rootfs") or {}).get("diff_ids") or [])
    if diff_id:
        diff_ids.append(diff_id)
    else:
        entry["empty_layer"] = True
    history.append(entry)
    if options.config is not None:  # the builder's: Labels stay null when none are set
        image_cfg = container_config(options.config)
        image_cfg["Labels"] = options.config.get("Labels") or None
    else:
        image_cfg = container_config(apply_changes(record.config, options.changes))
    run_cfg = options.container_config if options.container_config is not None else record.config
    config = {
        "architecture": parent.get("architecture") or host_architecture(),
        "config": image_cfg,
        "container": record.id,
        "container_config": _builder_labels(container_config(run_cfg), options.container_config),
        "created": created,
        "docker_version": DOCKER_VERSION,
        "history": history,
        "os": parent.get("os") or "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if options.author:
        config["author"] = options.author
    if options.message:
        config["comment"] = options.message
    if parent.get("variant"):
        config["variant"] = parent["variant"]
    return config


def commit_container(store: Store, name: str, options: CommitOptions) -> Digest:
    from dockyard.imageops.changes import apply_changes
    from dockyard.imageops.configs import encode_config
    from dockyard.runtime.ocirt import get_runtime
    from dockyard.timeutil import now_rfc3339

    record, directory = find(store, name)
    tag = _reference(options.repo_tag)
    apply_changes(record.config, options.changes)  # refuse bad --change before any work
    image_id = Digest.parse(record.image)
    parent = store.image(image_id)
    paused = False
    runtime = None
    state = read_state(directory)
    if options.pause and state.running and not state.paused:  # a paused one stays paused
        try:
            runtime = get_runtime(record.host_config.get("Runtime") or None)
            runtime.pause(record.id)
            paused = True
        except Exception:  # noqa: BLE001 - commit still works unpaused
            paused = False
    try:
        # A stopped container's files only change through `start` or `cp`, which take
        # its lock: holding it lets the snapshot copy big files by the kernel.
        with open(directory / "lock", "a+b") as lock:
            if not state.running:
                fcntl.flock(lock, fcntl.LOCK_EX)
            empty = options.empty_if_unchanged and _upper_is_empty(directory / "upper")
            layer = (
                None
                if empty
                else store.add_layer_from_upper(
                    directory / "upper",
                    parent.top_chain,
                    exclude=list(ENGINE_FILES),
                    stable=not state.running and not read_state(directory).running,
                )
            )
    finally:
        if paused and runtime is not None:
            runtime.resume(record.id)
    created = now_rfc3339()
    diff_id = str(layer.diff_id) if layer is not None else ""
    config = image_config(parent.config.data, record, options, diff_id, created)
    if not isinstance(config["rootfs"]["diff_ids"], list):
        raise InvalidArgument("parent image has no layer list")
    return store.add_image(encode_config(config), image_id, tag)


def _upper_is_empty(upper: Any) -> bool:
    """Nothing but the engine's own mount points (/etc/hosts, ...) and their parents."""
    import os

    for current, dirs, files in os.walk(upper):
        rel = os.path.relpath(current, upper)
        for name in files:
            path = name if rel == "." else f"{rel}/{name}"
            if path not in ENGINE_FILES:
                return False
        for name in dirs:
            path = name if rel == "." else f"{rel}/{name}"
            if not any(f.startswith(path + "/") for f in ENGINE_FILES):
                return False
    return True


def commit_tree(
    store: Store, parent_id: Digest | None, upper: Any, options: CommitOptions
) -> Digest:
    """The builder's commit without a container: ``upper`` (a directory laid out like an
    overlay upper directory, or None for a step that changes only the config) becomes the
    next layer on top of ``parent_id`` (None: scratch)."""
    from types import SimpleNamespace

    from dockyard.imageops.configs import encode_config
    from dockyard.timeutil import now_rfc3339

    parent = store.image(parent_id) if parent_id is not None else None
    diff_id = ""
    if upper is not None:
        layer = store.add_layer_from_upper(upper, parent.top_chain if parent else None, stable=True)
        diff_id = str(layer.diff_id)
    stand_in = SimpleNamespace(id="", command=[], config=options.container_config or {})
    config = image_config(
        parent.config.data if parent else {},
        stand_in,
        options,
        diff_id,
        now_rfc3339(),  # type: ignore[arg-type]
    )
    return store.add_image(encode_config(config), parent_id, _reference(options.repo_tag))


def _builder_labels(config: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    if given is not None:
        config["Labels"] = given.get("Labels")
    return config
