"""dockyard: a Docker-compatible container image engine and registry.

`from dockyard import Engine` gives the Python API; the CLI is a thin layer over it.
"""

from __future__ import annotations

__version__ = "0.1.0"

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine import Engine


def __getattr__(name: str) -> Any:
    # Lazy so that `import dockyard` stays cheap for the CLI's start-up.
    if name == "Engine":
        from dockyard.engine import Engine

        return Engine
    raise AttributeError(name)


__all__ = ["Engine", "__version__"]
