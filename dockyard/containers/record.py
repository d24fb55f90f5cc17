"""A container's persistent record: config.v2.json and hostconfig.json in its directory.

Shapes follow Docker's (Config and HostConfig as `docker inspect` shows them).
Both files are replaced atomically (temporary file + rename).
"""

from __future__ import annotations

import json
from pathlib import Path

from dockyard.datarecord import dataclass, field
from dockyard.runtime.state import write_json_atomic

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

CONFIG_FILE = "config.v2.json"
HOSTCONFIG_FILE = "hostconfig.json"


@dataclass
class ContainerRecord:
    id: str
    name: str  # without the leading "/"
    created: str
    path: str
    args: list[str]
    config: dict[str, Any]  # Docker's container Config
    host_config: dict[str, Any]  # Docker's HostConfig
    image: str  # image ID, "sha256:..."
    image_name: str  # what the user typed (ps IMAGE column)
    layer_chain: list[str] = field(default_factory=list)  # layer dirs, bottom to top

    @property
    def command(self) -> list[str]:
        return [self.path, *self.args] if self.path else list(self.args)

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))

    @property
    def open_stdin(self) -> bool:
        return bool(self.config.get("OpenStdin"))

    @property
    def network(self) -> str:
        return self.host_config.get("NetworkMode") or "none"


def save(container_dir: Path, record: ContainerRecord) -> None:
    write_json_atomic(
        container_dir / CONFIG_FILE,
        {
            "ID": record.id,
            "Created": record.created,
            "Path": record.path,
            "Args": record.args,
            "Config": record.config,
            "Image": record.image,
            "ImageName": record.image_name,
            "Name": "/" + record.name,
            "Driver": "overlay2",
            "LayerChain": record.layer_chain,
        },
    )
    write_json_atomic(container_dir / HOSTCONFIG_FILE, record.host_config)


def load(container_dir: Path) -> ContainerRecord:
    with open(container_dir / CONFIG_FILE, encoding="utf-8") as src:
        data = json.load(src)
    try:
        with open(container_dir / HOSTCONFIG_FILE, encoding="utf-8") as src:
            host_config = json.load(src)
    except FileNotFoundError:
        host_config = {}
    return ContainerRecord(
        id=data["ID"],
        name=data["Name"].lstrip("/"),
        created=data["Created"],
        path=data.get("Path", ""),
        args=data.get("Args") or [],
        config=data.get("Config") or {},
        host_config=host_config,
        image=data.get("Image", ""),
        image_name=data.get("ImageName", ""),
        layer_chain=data.get("LayerChain") or [],
    )
