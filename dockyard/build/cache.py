"""The classic builder's cache: a step is cached when the current image has a child
whose ContainerConfig equals the step's (Docker's compare(): Cmd with its `#(nop)` text
or build args, Env, Labels, ports, Entrypoint, Volumes, User, attach and tty flags);
the oldest such child wins (Docker's getLocalCachedImage)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.digest import Digest
    from dockyard.store import Store


def same_run_config(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if not a or not b or a.get("OpenStdin") or b.get("OpenStdin"):
        return False
    for key in ("AttachStdout", "AttachStderr", "User", "OpenStdin", "Tty"):
        if (a.get(key) or False) != (b.get(key) or False):
            return False
    for key in ("Cmd", "Env", "Entrypoint"):
        if list(a.get(key) or []) != list(b.get(key) or []):
            return False
    for key in ("Labels", "ExposedPorts", "Volumes"):
        left, right = a.get(key) or {}, b.get(key) or {}
        if key == "Labels":
            if left != right:
                return False
        elif set(left) != set(right):
            return False
    return True


def probe(store: Store, parent: Digest | None, run_config: dict[str, Any]) -> Digest | None:
    """The cached child image of ``parent`` (None: scratch) for this step, if any."""
    from dockyard.digest import Digest

    if parent is None:
        rows = store.db.execute("SELECT id, created FROM images WHERE parent IS NULL").fetchall()
    else:
        rows = store.db.execute(
            "SELECT id, created FROM images WHERE parent = ?", (str(parent),)
        ).fetchall()
    from dockyard.errors import DockyardError
    from dockyard.timeutil import parse_rfc3339_ns

    best: tuple[str, int] | None = None
    for image_id, created in rows:
        try:
            data = store.config(Digest.parse(image_id)).data
        except Exception:  # noqa: BLE001 - a broken image is not a cache hit
            continue
        if not same_run_config(data.get("container_config"), run_config):
            continue
        try:
            when = parse_rfc3339_ns(created or "")
        except (ValueError, DockyardError):
            when = 0
        if best is None or when < best[1]:
            best = (image_id, when)
    return Digest.parse(best[0]) if best else None
