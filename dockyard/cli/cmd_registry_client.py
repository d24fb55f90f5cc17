"""Registry client commands: pull, push, login, logout, search.

The registry modules (and aiohttp) are imported inside the handlers: start-up stays fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO


class ConsoleEvents:
    """Docker's pull/push output: live bars on a terminal, plain status lines otherwise."""

    HIDDEN_OFF_TERMINAL = frozenset({"Verifying Checksum"})

    def __init__(self, out: TextIO, terminal: bool | None = None) -> None:
        from dockyard.cli.progress import ProgressBars

        self.out = out
        self.terminal = out.isatty() if terminal is None else terminal
        self.bars = ProgressBars(out)

    def line(self, text: str) -> None:
        self.bars.lines = {}
        self.out.write(text + "\n")
        self.out.flush()

    def status(self, item: str, text: str) -> None:
        if self.terminal:
            self.bars.show(item, f"{item}: {text} ")
        elif text not in self.HIDDEN_OFF_TERMINAL:
            self.out.write(f"{item}: {text}\n")
            self.out.flush()

    def progress(self, item: str, action: str, current: int, total: int) -> None:
        if self.terminal:
            self.bars.update(item, action, current, total)


def _daemon_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from dockyard.client.daemonconfig import load_daemon_config

    return load_daemon_config(getattr(args, "config", None))


def cmd_pull(args: argparse.Namespace) -> int:
    from dockyard import reference
    from dockyard.cli.common import engine_for
    from dockyard.client.events import NoEvents

    events = NoEvents() if args.quiet else ConsoleEvents(sys.stdout)
    engine = engine_for(args)
    try:
        results = engine.images.pull(
            args.name,
            events=events,
            all_tags=args.all_tags,
            platform=args.platform,
            config=_daemon_config(args),
        )
    finally:
        engine.close()
    if args.all_tags:
        sys.stdout.write(reference.parse(args.name).name + "\n")
    elif results:
        sys.stdout.write(str(results[0].reference) + "\n")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from dockyard.cli.common import engine_for
    from dockyard.client.events import NoEvents

    events = NoEvents() if args.quiet else ConsoleEvents(sys.stdout)
    engine = engine_for(args)
    try:
        results = engine.images.push(
            args.name,
            events=events,
            all_tags=args.all_tags,
            compression=args.compression,
            config=_daemon_config(args),
        )
    finally:
        engine.close()
    if args.quiet:
        for result in results:
            sys.stdout.write(str(result.reference) + "\n")
    return 0


UNENCRYPTED_WARNING = """
WARNING! Your credentials are stored unencrypted in '{path}'.
Configure a credential helper to remove this warning. See
https://docs.docker.com/go/credential-store/

"""


def cmd_login(args: argparse.Namespace) -> int:
    from dockyard.client import credentials as creds
    from dockyard.client.login import login, server_host
    from dockyard.errors import InvalidArgument

    username, password = args.username or "", args.password
    if args.password_stdin:
        if args.password is not None:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        if not username:
            raise InvalidArgument("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    elif password is not None:
        sys.stderr.write(
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"
        )
    if not username and password is None:
        stored = creds.load(server_host(args.server))
        if stored is not None and stored.username:
            sys.stdout.write(
                f"Authenticating with existing credentials... [Username: {stored.username}]\n"
            )
            username, password = stored.username, stored.password
    if not username:
        username = _prompt("Username: ")
    if password is None:
        import getpass

        password = getpass.getpass("Password: ") if sys.stdin.isatty() else ""
    if not password:
        raise InvalidArgument("Error: Password Required")
    result = login(args.server, username, password, _daemon_config(args))
    if result.unencrypted:
        sys.stderr.write(UNENCRYPTED_WARNING.format(path=result.config_file))
    sys.stdout.write("Login Succeeded\n")
    return 0


def _prompt(text: str) -> str:
    from dockyard.errors import InvalidArgument

    if not sys.stdin.isatty():
        raise InvalidArgument("Error: Cannot perform an interactive login from a non TTY device")
    sys.stdout.write(text)
    sys.stdout.flush()
    return sys.stdin.readline().strip()


def cmd_logout(args: argparse.Namespace) -> int:
    from dockyard.client.login import logout

    key = logout(args.server)
    sys.stdout.write(f"Removing login credentials for {key}\n")
    return 0


SEARCH_TABLE = (
    "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}"
)
SEARCH_HEADERS = {
    "Name": "NAME",
    "Description": "DESCRIPTION",
    "StarCount": "STARS",
    "IsOfficial": "OFFICIAL",
    "IsAutomated": "AUTOMATED",
}
DESCRIPTION_WIDTH = 45


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def cmd_search(args: argparse.Namespace) -> int:
    from dockyard.cli.table import render_table
    from dockyard.imageops.search import search

    results = search(args.term, args.limit, args.filter or [], _daemon_config(args))
    rows = []
    for result in results:
        description = result.description.replace("\n", " ")
        if not args.no_trunc:
            description = _ellipsis(description, DESCRIPTION_WIDTH)
        rows.append(
            {
                "Name": result.name,
                "Description": description,
                "StarCount": str(result.star_count),
                "IsOfficial": "[OK]" if result.is_official else "",
                "IsAutomated": "[OK]" if result.is_automated else "",
            }
        )
    sys.stdout.write(render_table(args.format or SEARCH_TABLE, rows, SEARCH_HEADERS))
    return 0


def _add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="daemon.json to read (default $DOCKYARD_CONFIG or /etc/dockyard/daemon.json)",
    )


def _add_pull(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    parser.add_argument(
        "-a", "--all-tags", action="store_true", help="download all tagged images in the repository"
    )
    parser.add_argument("--platform", help="set platform if server is multi-platform capable")
    parser.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")
    _add_config_flag(parser)
    parser.set_defaults(handler=cmd_pull)


def _add_push(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME[:TAG]")
    parser.add_argument(
        "-a", "--all-tags", action="store_true", help="push all tags of an image to the repository"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")
    parser.add_argument(
        "--compression",
        choices=("gzip", "zstd"),
        help="compression of layers that are not compressed yet (default gzip)",
    )
    _add_config_flag(parser)
    parser.set_defaults(handler=cmd_push)


def _add_login(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("server", nargs="?", metavar="SERVER")
    parser.add_argument("-u", "--username", help="username")
    parser.add_argument("-p", "--password", help="password or personal access token")
    parser.add_argument(
        "--password-stdin", action="store_true", help="take the password or token from stdin"
    )
    _add_config_flag(parser)
    parser.set_defaults(handler=cmd_login)


def _add_logout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("server", nargs="?", metavar="SERVER")
    parser.set_defaults(handler=cmd_logout)


def _add_search(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("term", metavar="TERM")
    parser.add_argument(
        "-f", "--filter", action="append", help="filter output based on conditions provided"
    )
    parser.add_argument("--format", help="pretty-print search using a Go template")
    parser.add_argument("--limit", type=int, default=25, help="max number of search results")
    parser.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    _add_config_flag(parser)
    parser.set_defaults(handler=cmd_search)


def register(subparsers: argparse._SubParsersAction) -> None:
    _add_pull(subparsers.add_parser("pull", help="download an image from a registry"))
    _add_push(subparsers.add_parser("push", help="upload an image to a registry"))
    _add_login(subparsers.add_parser("login", help="authenticate to a registry"))
    _add_logout(subparsers.add_parser("logout", help="log out from a registry"))
    _add_search(subparsers.add_parser("search", help="search for images in a registry"))
