"""The event bus behind GET /events: container and image events of this daemon.

Routes publish from the event loop (or from worker threads through
publish_threadsafe); each /events request subscribes a queue. The last
events are kept so that `since` can replay them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

HISTORY = 1024
CLOSED: dict[str, Any] = {"closed": True}  # put in the queues at shutdown


def make_event(
    kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None
) -> dict[str, Any]:
    now = time.time_ns()
    event: dict[str, Any] = {}
    attributes = dict(attributes or {})
    if kind == "container":
        event["status"] = action
        event["id"] = actor_id
        if "image" in attributes:
            event["from"] = attributes["image"]
    elif kind == "image":
        event["status"] = action
        event["id"] = attributes.get("name", actor_id) if action in ("pull", "push") else actor_id
    event.update(
        {
            "Type": kind,
            "Action": action,
            "Actor": {"ID": actor_id, "Attributes": attributes},
            "scope": "local",
            "time": now // 1_000_000_000,
            "timeNano": now,
        }
    )
    return event


def matches(event: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """Docker's event filters: type, event, container, image, label (each OR within, AND across)."""
    attributes = event["Actor"]["Attributes"]
    for key, values in filters.items():
        if not values:
            continue
        if key == "type":
            ok = event["Type"] in values
        elif key in ("event", "action"):
            ok = event["Action"] in values or event["Action"].split(":", 1)[0] in values
        elif key == "container":
            ok = event["Type"] == "container" and any(
                event["Actor"]["ID"].startswith(v) or attributes.get("name") == v for v in values
            )
        elif key == "image":
            ok = any(
                attributes.get("image") == v
                or attributes.get("name") == v
                or event["Actor"]["ID"] == v
                or event["Actor"]["ID"].removeprefix("sha256:").startswith(v)
                for v in values
            )
        elif key == "label":
            ok = any(
                (lambda k, sep, v: attributes.get(k) == v if sep else k in attributes)(
                    *value.partition("=")
                )
                for value in values
            )
        else:
            ok = True
        if not ok:
            return False
    return True


class EventBus:
    def __init__(self) -> None:
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self.queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def publish(
        self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None
    ) -> None:
        event = make_event(kind, action, actor_id, attributes)
        self.history.append(event)
        for queue in list(self.queues):
            queue.put_nowait(event)

    def publish_threadsafe(
        self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None
    ) -> None:
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(self.publish, kind, action, actor_id, attributes)

    def close(self) -> None:
        """Daemon shutdown: every /events stream ends."""
        for queue in list(self.queues):
            queue.put_nowait(CLOSED)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.queues.discard(queue)

    def since(self, since_ns: int, until_ns: int | None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.history
            if e["timeNano"] >= since_ns and (until_ns is None or e["timeNano"] <= until_ns)
        ]
