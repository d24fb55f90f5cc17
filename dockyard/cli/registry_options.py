"""The registry commands' shared options: defaults, the --config file, the environment
and the flags, in that order; the storage directory and repository names they take."""

from __future__ import annotations

import argparse
import os

from dockyard.errors import InvalidArgument

SERVE_DEFAULTS: dict[str, object] = {
    "addr": "127.0.0.1:5000",
    "service": "dockyard-registry",
    "token-ttl": 300,
    "anonymous-pull": True,
    "gc-interval": 0.0,
    "gc-grace": 3600.0,
    "upload-grace": 86400.0,
    "gc-delete-untagged": False,
    "access-log": False,
    "workers": 1,
    "catalog-max": 1000,
}


def registry_options(args: argparse.Namespace) -> dict:
    """Defaults, then the --config file, then the environment, then the flags."""
    from dockyard.registry.config_file import OPTIONS, read_config_file

    options: dict = dict(SERVE_DEFAULTS)
    if getattr(args, "config", None):
        options.update(read_config_file(args.config))
    for key, variable in (
        ("storage", "DOCKYARD_REGISTRY_STORAGE"),
        ("metadata", "DOCKYARD_REGISTRY_METADATA"),
    ):
        if os.environ.get(variable):
            options[key] = os.environ[variable]
    for key in OPTIONS:
        value = getattr(args, key.replace("-", "_"), None)
        if value is not None:
            options[key] = value
    return options


def storage_dir(args: argparse.Namespace) -> str:
    storage = registry_options(args).get("storage")
    if not storage:
        raise InvalidArgument("--storage DIR is required (or DOCKYARD_REGISTRY_STORAGE)")
    return storage if "://" in storage else os.path.abspath(storage)


def metadata_url(args: argparse.Namespace) -> str | None:
    return registry_options(args).get("metadata")


def repo_name(name: str) -> str:
    from dockyard.reference import PATH_RE

    if not PATH_RE.match(name):
        raise InvalidArgument(f"invalid repository name: {name}")
    return name


def open_registry_metadata(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The registry metadata the options name (--metadata, else SQLite in --storage)."""
    from dockyard.registry.metadata_open import open_metadata

    url = metadata_url(args)
    storage = storage_dir(args) if url is None else registry_options(args).get("storage")
    return open_metadata(url, storage)
