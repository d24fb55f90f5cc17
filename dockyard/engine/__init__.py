"""The Python API: what the CLI and the daemon both call.

    from dockyard import Engine

    with Engine("/var/lib/dockyard") as engine:
        engine.images.import_("rootfs.tar", "busybox:latest", changes=['CMD ["sh"]'])
        result = engine.containers.run("busybox", ["echo", "hello"], remove=True)
        print(result.exit_code, result.output)

`engine.images` and `engine.containers` (in the spirit of docker-py's
`client.images` and `client.containers`) return records, digests and Docker's
JSON documents; nothing here prints. docs/python-api.md lists every method.

The CLI's everyday commands construct an Engine at start-up, so this package
and its two collection modules import nothing heavy at their top: each method
imports the module that does the work (tests/test_cli_startup.py pins it).
"""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.errors import NotFound
from dockyard.store import Store

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

    from dockyard.client.daemonconfig import DaemonConfig
    from dockyard.client.login import LoginResult
    from dockyard.engine.containers import Containers
    from dockyard.engine.images import Images
    from dockyard.imageops.check import CheckReport

DEFAULT_ROOT = "/var/lib/dockyard"


def default_root() -> str:
    return os.environ.get("DOCKYARD_ROOT") or DEFAULT_ROOT


class Engine:
    """One local store (default $DOCKYARD_ROOT or /var/lib/dockyard) and its verbs."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.store = Store.open(root or default_root())
        self._images: Images | None = None
        self._containers: Containers | None = None

    @property
    def images(self) -> Images:
        """list, get, inspect, history, tag, remove, prune, import_, save, load, pull, ..."""
        if self._images is None:  # each collection's module is loaded on first use
            from dockyard.engine.images import Images

            self._images = Images(self.store)
        return self._images

    @property
    def containers(self) -> Containers:
        """create, run, start, stop, wait, logs, exec_run, commit, export, diff, cp, ..."""
        if self._containers is None:
            from dockyard.engine.containers import Containers

            self._containers = Containers(self.store)
        return self._containers

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def check(self, repair: bool = False) -> CheckReport:
        """Verify every blob, layer snapshot and reference; with repair, clean up."""
        from dockyard.imageops.check import check_store

        return check_store(self.store, repair)

    def disk_usage(self) -> dict[str, Any]:
        """`system df`: {"images": {...}, "containers": {...}} with totals and sizes."""
        from dockyard.imageops.df import disk_usage

        return disk_usage(self.store)

    def login(
        self,
        server: str | None,
        username: str,
        password: str,
        *,
        config: DaemonConfig | None = None,
    ) -> LoginResult:
        """Check credentials with the registry and store them in Docker's config.json."""
        from dockyard.client.login import login

        return login(server, username, password, config)


__all__ = ["Engine", "NotFound", "default_root"]
