"""Helpers every command module shares: the engine for the chosen root, output helpers."""

from __future__ import annotations

import sys

from dockyard.gojson import go_json

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import argparse
    from typing import Any


def engine_for(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The Engine on the chosen root (one per command line)."""
    engine = getattr(args, "engine_instance", None)
    if engine is None:
        from dockyard.cli.main import store_root
        from dockyard.engine import Engine

        engine = args.engine_instance = Engine(store_root(args))
    return engine


def print_inspect(items: list[Any], template: str | None) -> None:
    if template:
        from dockyard.cli.gotemplate import parse

        compiled = parse(template)
        for item in items:
            sys.stdout.write(compiled.execute(item) + "\n")
    else:
        sys.stdout.write(go_json(items, indent="    ") + "\n")


def add_format_flag(parser: argparse.ArgumentParser, help_text: str | None = None) -> None:
    parser.add_argument(
        "--format",
        help=help_text
        or "format output using a custom template ('table', 'json' or a Go template)",
    )


def confirm(prompt: str) -> bool:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")
