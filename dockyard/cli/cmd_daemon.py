"""`dockyard daemon`: serve the Docker Engine API on a unix socket (or loopback tcp)."""

from __future__ import annotations

import argparse


def cmd_daemon(args: argparse.Namespace) -> int:
    from dockyard.cli.main import store_root
    from dockyard.daemon.listeners import DEFAULT_HOST
    from dockyard.daemon.server import run

    return run(store_root(args), args.host or [DEFAULT_HOST], args.log_level)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "daemon", help="serve the Docker Engine API (docker CLI and SDK compatible)"
    )
    parser.add_argument(
        "-H",
        "--host",
        action="append",
        help="where to listen: unix:///run/dockyard.sock (default) or tcp://127.0.0.1:PORT;"
        " repeat for several",
    )
    parser.add_argument(
        "-l",
        "--log-level",
        default="info",
        choices=["debug", "info", "warn", "warning", "error", "fatal"],
        help="request log level (default info)",
    )
    parser.set_defaults(handler=cmd_daemon)
