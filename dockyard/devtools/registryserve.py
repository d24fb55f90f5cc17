"""The command line that starts ``dockyard registry serve`` from this interpreter (the
demo, the tests and the benchmarks each start registries)."""

from __future__ import annotations

import sys


def registry_serve_command(addr: str, *flags: str) -> list[str]:
    """``python -m dockyard.cli.main registry serve --addr ADDR FLAGS...``."""
    return [sys.executable, "-m", "dockyard.cli.main", "registry", "serve", "--addr", addr, *flags]
