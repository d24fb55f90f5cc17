"""Image configs as Docker writes them: key order, defaults, history entries."""

from __future__ import annotations

import json
import os

from dockyard.imageops.changes import normalize_config

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

DOCKER_VERSION = "dockyard-0.1.0"

_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}


def host_architecture() -> str:
    machine = os.uname().machine
    return _ARCH.get(machine, machine)


def encode_config(config: dict[str, Any]) -> bytes:
    """Compact JSON with top-level keys sorted, as Docker's image store writes configs."""
    return json.dumps(dict(sorted(config.items())), separators=(",", ":")).encode()


def imported_image_config(
    created: str, comment: str, diff_id: str, container_config: dict[str, Any]
) -> bytes:
    return encode_config(
        {
            "architecture": host_architecture(),
            "comment": comment,
            "config": normalize_config(container_config),
            "container_config": normalize_config({}),
            "created": created,
            "docker_version": DOCKER_VERSION,
            "history": [{"created": created, "comment": comment}],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    )
