"""`inspect` and `history`: Docker's JSON shapes, built from the store."""

from __future__ import annotations

from dockyard import reference
from dockyard.digest import Digest
from dockyard.imageops.changes import normalize_config
from dockyard.imageops.resolve import resolve_image_id
from dockyard.store import ImageRecord, Store
from dockyard.timeutil import ZERO_TIME, parse_rfc3339_or_zero

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any


def _graph_driver(store: Store, image: ImageRecord) -> dict[str, Any]:
    dirs = [str(layer.dir) for layer in store.layer_chain(image.top_chain)]
    data: dict[str, str] = {}
    if len(dirs) > 1:
        data["LowerDir"] = ":".join(reversed(dirs[:-1]))
    if dirs:
        data["UpperDir"] = dirs[-1]
    return {"Data": data, "Name": "overlay2"}


def inspect_image(store: Store, text: str) -> dict[str, Any]:
    image = store.image(resolve_image_id(store, text))
    data = image.config.data
    result: dict[str, Any] = {
        "Id": str(image.id),
        "RepoTags": [reference.familiar(n) for n in image.repo_tags],
        "RepoDigests": [reference.familiar(n) for n in image.repo_digests],
        "Parent": str(image.parent) if image.parent else "",
        "Comment": data.get("comment", ""),
        "Created": data.get("created", ZERO_TIME),
        "Container": data.get("container", ""),
        "ContainerConfig": normalize_config(data.get("container_config")),
        "DockerVersion": data.get("docker_version", ""),
        "Author": data.get("author", ""),
        "Config": normalize_config(data.get("config")),
        "Architecture": data.get("architecture", ""),
    }
    if data.get("variant"):
        result["Variant"] = data["variant"]
    result["Os"] = data.get("os", "")
    if data.get("os.version"):
        result["OsVersion"] = data["os.version"]
    result.update(
        {
            "Size": image.size,
            "VirtualSize": image.size,
            "GraphDriver": _graph_driver(store, image),
            "RootFS": {"Type": "layers", "Layers": [str(d) for d in image.config.diff_ids]},
            "Metadata": {"LastTagTime": image.last_tag_time or ZERO_TIME},
        }
    )
    return result


def image_history(store: Store, text: str) -> list[dict[str, Any]]:
    """Docker's /images/{name}/history items, newest first."""
    image = store.image(resolve_image_id(store, text))
    items: list[dict[str, Any]] = []
    layers = store.layer_chain(image.top_chain)
    layer_index = 0
    for entry in image.config.history:
        size = 0
        if not entry.get("empty_layer"):
            if layer_index < len(layers):
                size = layers[layer_index].size
            layer_index += 1
        items.insert(
            0,
            {
                "Id": "<missing>",
                "Created": int(parse_rfc3339_or_zero(entry.get("created", ""))),
                "CreatedBy": entry.get("created_by", ""),
                "Tags": None,
                "Size": size,
                "Comment": entry.get("comment", ""),
            },
        )
    current: ImageRecord | None = image
    for item in items:
        if current is None:
            break
        item["Id"] = str(current.id)
        tags = [reference.familiar(n) for n in current.repo_tags]
        item["Tags"] = tags or None
        if current.parent is None:
            break
        try:
            current = store.image(Digest.parse(str(current.parent)))
        except Exception:
            current = None
    return items
