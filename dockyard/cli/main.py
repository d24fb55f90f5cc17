"""Entry point of the `dockyard` command.

Each command group lives in its own module under dockyard.cli that exposes
``register(subparsers)``; a command sets ``handler`` (a function taking the
parsed args and returning an exit code). Handlers import heavy modules
themselves so that start-up stays cheap.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from dockyard.errors import DockyardError, InvalidReference

COMMAND_MODULES = (
    "dockyard.cli.cmd_images",
    "dockyard.cli.cmd_archive",
    "dockyard.cli.cmd_system",
    "dockyard.cli.cmd_containers",
    "dockyard.cli.cmd_registry",
    "dockyard.cli.cmd_registry_client",
    "dockyard.cli.cmd_daemon",
)


class ArgumentParser(argparse.ArgumentParser):
    """Docker-like usage errors: one line, then a pointer to --help, exit code 125."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: {message}\nSee '{self.prog} --help'.\n")
        raise SystemExit(125)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="dockyard", description="A Docker-compatible image engine")
    parser.add_argument(
        "--root", help="store directory (default $DOCKYARD_ROOT or /var/lib/dockyard)"
    )
    parser.add_argument("--version", action="version", version="dockyard 0.1.0")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=ArgumentParser
    )
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue  # a command group that is not built yet
            raise
        module.register(subparsers)
    return parser


def store_root(args: argparse.Namespace) -> str:
    return args.root or os.environ.get("DOCKYARD_ROOT") or "/var/lib/dockyard"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return int(handler(args) or 0)
    except DockyardError as error:
        prefix = "" if isinstance(error, InvalidReference) else "Error: "
        sys.stderr.write(f"{prefix}{error}\n")
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        sys.stderr.write(f"Error: {error.strerror or error}{where}\n")
        return 1
    except Exception as error:  # a bug: one line for the user, the traceback on request
        if os.environ.get("DOCKYARD_DEBUG"):
            raise
        sys.stderr.write(f"Error: internal error: {type(error).__name__}: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
