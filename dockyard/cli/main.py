"""Entry point of the `dockyard` command.

Each command group lives in its own module under dockyard.cli that exposes
``register(subparsers)``; a command sets ``handler`` (a function taking the
parsed args and returning an exit code). Handlers import heavy modules
themselves so that start-up stays cheap.
"""

from __future__ import annotations

import os
import sys

from dockyard.errors import DockyardError, InvalidReference

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

COMMAND_MODULES = (
    "dockyard.cli.cmd_images",
    "dockyard.cli.cmd_archive",
    "dockyard.cli.cmd_system",
    "dockyard.cli.cmd_containers",
    "dockyard.cli.cmd_registry",
    "dockyard.cli.cmd_registry_client",
    "dockyard.cli.cmd_daemon",
    "dockyard.cli.cmd_build",
)

# The module that registers each top-level command: a command line that names
# one of these loads only that module (start-up time); anything else (help, an
# unknown word) loads them all. tests/cli/test_cli_startup.py keeps this in step.
COMMAND_MODULE = {
    **dict.fromkeys(
        ("images", "inspect", "history", "tag", "rmi", "import", "image"),
        "dockyard.cli.cmd_images",
    ),
    **dict.fromkeys(("save", "load"), "dockyard.cli.cmd_archive"),
    **dict.fromkeys(("system", "check"), "dockyard.cli.cmd_system"),
    **dict.fromkeys(
        "create run start stop restart pause unpause kill rm logs wait attach exec diff"
        " export cp rename commit ps container".split(),
        "dockyard.cli.cmd_containers",
    ),
    "registry": "dockyard.cli.cmd_registry",
    **dict.fromkeys(
        ("pull", "push", "login", "logout", "search"), "dockyard.cli.cmd_registry_client"
    ),
    "daemon": "dockyard.cli.cmd_daemon",
    **dict.fromkeys(("build", "builder"), "dockyard.cli.cmd_build"),
}

_parser_class = None


def _argument_parser_class() -> type:
    """argparse is imported on first use: the `images` fast path never needs it."""
    global _parser_class
    if _parser_class is None:
        import argparse

        class ArgumentParser(argparse.ArgumentParser):
            """Docker-like usage errors: one line, then a pointer to --help, exit code 125."""

            def error(self, message: str) -> None:  # type: ignore[override]
                sys.stderr.write(f"{self.prog}: {message}\nSee '{self.prog} --help'.\n")
                raise SystemExit(125)

            def _get_formatter(self) -> argparse.HelpFormatter:
                # argparse makes a formatter for every argument added; left to find the
                # width itself, it would import shutil (with bz2, lzma: ~3 ms of start-up).
                return self.formatter_class(prog=self.prog, width=_terminal_columns() - 2)

        _parser_class = ArgumentParser
    return _parser_class


def _terminal_columns() -> int:
    """The width shutil.get_terminal_size() gives (what HelpFormatter uses), without shutil."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def command_word(argv: Sequence[str]) -> str | None:
    """The command a command line names, past the global options; None if unclear."""
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--root":
            index += 2
        elif arg.startswith("--root="):
            index += 1
        elif arg.startswith("-"):
            return None  # --help, --version, or a usage error: the full parser says
        else:
            return arg
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, only the module that registers it is loaded
    (all of them when that module turns out not to register it)."""
    only = COMMAND_MODULE.get(command) if command is not None else None
    if only:
        parser, choices = _build_parser((only,), command)
        if command in choices:
            return parser
    return _build_parser(COMMAND_MODULES)[0]


class _Skipped:
    """Stands in for the parser of a command that was not named: building the other
    commands' parsers (argparse looks up gettext and the terminal size for every
    argument) would cost more than running most commands."""

    def __getattr__(self, name: str) -> Any:
        return self._ignore

    def _ignore(self, *args: Any, **kwargs: Any) -> _Skipped:
        return self


def _build_parser(
    modules: Sequence[str], command: str | None = None
) -> tuple[argparse.ArgumentParser, dict]:
    import importlib

    parser_class = _argument_parser_class()
    parser = parser_class(prog="dockyard", description="A Docker-compatible image engine")
    parser.add_argument(
        "--root", help="store directory (default $DOCKYARD_ROOT or /var/lib/dockyard)"
    )
    parser.add_argument("--version", action="version", version="dockyard 0.1.0")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    if command is not None:
        add_parser = subparsers.add_parser

        def add_named_parser(name: str, **kwargs: Any) -> Any:
            if name == command or command in kwargs.get("aliases", ()):
                return add_parser(name, **kwargs)
            return _Skipped()

        subparsers.add_parser = add_named_parser  # type: ignore[method-assign]
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue  # a command group that is not built yet
            raise
        module.register(subparsers)
    return parser, subparsers.choices


def store_root(args: argparse.Namespace) -> str:
    return args.root or os.environ.get("DOCKYARD_ROOT") or "/var/lib/dockyard"


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = command_word(words)
    if command in ("images", "image"):
        from dockyard.cli.fast import images

        code = images(words)
        if code is not None:
            return code
    args = None
    if command in ("load", "import"):
        from dockyard.cli.fast import archive_command

        args = archive_command(words)
    if args is None:
        parser = build_parser(command)
        args = parser.parse_args(words)
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


def run_and_exit() -> None:
    """The command line's entry point: main(), then a quick exit.

    The interpreter's own shutdown (clearing ~200 modules, a last collection)
    took 25-40 ms here, more than most commands' work: after main() the
    process flushes its output, runs the atexit handlers, and ends with
    os._exit. A command that left non-daemon threads running gets the normal
    shutdown, which waits for them.
    """
    code = main()
    threading = sys.modules.get("threading")
    if threading is not None and any(
        thread.is_alive() and not thread.daemon and thread is not threading.main_thread()
        for thread in threading.enumerate()
    ):
        sys.exit(code)
    import atexit

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    run_and_exit()
