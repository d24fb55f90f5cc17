"""dockyard: a Docker-compatible container image engine and registry.

`from dockyard import Engine` gives the Python API; the CLI is a thin layer over it.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from dockyard.engine import Engine


def __getattr__(name: str) -> Any:
    # Lazy so that `import dockyard` stays cheap for the CLI's start-up.
    if name == "Engine":
        from dockyard.engine import Engine

        return Engine
    raise AttributeError(name)


__all__ = ["Engine", "__version__"]
