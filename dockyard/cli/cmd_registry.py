"""`dockyard registry`: serve, gc, user and repo administration.

aiohttp and the registry modules are imported inside the handlers: the CLI starts fast.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from dockyard.errors import InvalidArgument


def _storage(args: argparse.Namespace) -> str:
    storage = args.storage or os.environ.get("DOCKYARD_REGISTRY_STORAGE")
    if not storage:
        raise InvalidArgument("--storage DIR is required (or DOCKYARD_REGISTRY_STORAGE)")
    return os.path.abspath(storage)


def _add_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", metavar="DIR", help="registry storage directory")


def _serve(args: argparse.Namespace) -> int:
    from dockyard.registry.config import RegistryConfig
    from dockyard.registry.server import parse_addr, serve

    host, port = parse_addr(args.addr)
    config = RegistryConfig(
        storage=_storage(args),
        host=host,
        port=port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        realm=args.realm,
        anonymous_pull=not args.no_anonymous_pull,
        gc_interval=args.gc_interval,
        gc_grace=args.gc_grace,
        gc_delete_untagged=args.gc_delete_untagged,
    )
    return serve(config, access_log=args.access_log, workers=args.workers)


def _gc(args: argparse.Namespace) -> int:
    from dockyard.registry.gc import GcPolicy, collect
    from dockyard.registry.metadata import Metadata
    from dockyard.registry.storage.filesystem import FilesystemDriver

    storage = _storage(args)
    if not os.path.exists(os.path.join(storage, "registry.db")):
        raise InvalidArgument(f"no registry storage at {storage}")
    report = collect(
        FilesystemDriver(storage),
        Metadata(storage),
        GcPolicy(
            grace=args.grace,
            upload_grace=args.upload_grace,
            delete_untagged=args.delete_untagged,
            dry_run=args.dry_run,
        ),
    )
    for line in report.lines():
        print(line)
    return 0


def _accounts(args: argparse.Namespace):
    from dockyard.registry.accounts import Accounts
    from dockyard.registry.metadata import Metadata

    return Accounts(Metadata(_storage(args)))


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if args.password is not None:
        return args.password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise InvalidArgument("passwords do not match")
    return first


def _user_add(args: argparse.Namespace) -> int:
    _accounts(args).add(args.name, _read_password(args), admin=args.admin)
    print(f"user {args.name} added" + (" (admin)" if args.admin else ""))
    return 0


def _user_remove(args: argparse.Namespace) -> int:
    _accounts(args).remove(args.name)
    print(f"user {args.name} removed")
    return 0


def _user_passwd(args: argparse.Namespace) -> int:
    admin = True if args.admin else (False if args.no_admin else None)
    _accounts(args).set_password(args.name, _read_password(args), admin=admin)
    print(f"password of {args.name} changed")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    for user in _accounts(args).users():
        print(f"{user.name}{'  admin' if user.admin else ''}")
    return 0


def _repo_name(name: str) -> str:
    from dockyard.reference import PATH_RE

    if not PATH_RE.match(name):
        raise InvalidArgument(f"invalid repository name: {name}")
    return name


def _set_description(args: argparse.Namespace) -> int:
    _accounts(args).set_description(_repo_name(args.repo), args.description)
    return 0


def _set_official(args: argparse.Namespace) -> int:
    _accounts(args).set_official(_repo_name(args.repo), not args.off)
    return 0


def _set_private(args: argparse.Namespace) -> int:
    _accounts(args).set_private(_repo_name(args.repo), not args.off)
    return 0


def _grant(args: argparse.Namespace) -> int:
    actions = [a.strip() for a in args.actions.split(",") if a.strip()]
    _accounts(args).grant(args.repo, args.user, actions)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    _accounts(args).revoke(args.repo, args.user)
    return 0


def _password_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password", help="the password (visible in ps; prefer --password-stdin)")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )


def register(subparsers) -> None:
    registry = subparsers.add_parser("registry", help="Run and administer an image registry")
    commands = registry.add_subparsers(dest="registry_command", metavar="COMMAND")
    registry.set_defaults(handler=lambda args: registry.print_help() or 0)

    serve = commands.add_parser("serve", help="Serve the registry API and web page")
    serve.add_argument("--addr", default="127.0.0.1:5000", help="HOST:PORT to listen on")
    _add_storage(serve)
    serve.add_argument("--tls-cert", help="certificate (PEM) for HTTPS")
    serve.add_argument("--tls-key", help="private key (PEM) for HTTPS")
    serve.add_argument("--realm", help="token endpoint URL announced to clients")
    serve.add_argument(
        "--no-anonymous-pull", action="store_true", help="require sign-in to pull public repos"
    )
    serve.add_argument(
        "--gc-interval", type=float, default=0.0, metavar="SECONDS", help="run gc periodically"
    )
    serve.add_argument(
        "--gc-grace",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="periodic gc keeps anything younger than this (default 3600)",
    )
    serve.add_argument(
        "--gc-delete-untagged",
        action="store_true",
        help="periodic gc also deletes manifests no tag reaches",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve from N processes sharing the port and the storage (default 1)",
    )
    serve.set_defaults(handler=_serve)

    gc = commands.add_parser("gc", help="Delete unreferenced blobs and stale uploads")
    _add_storage(gc)
    gc.add_argument("--dry-run", action="store_true", help="only report what would be deleted")
    gc.add_argument(
        "--grace",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="keep anything younger than this (default 3600)",
    )
    gc.add_argument(
        "--upload-grace",
        type=float,
        default=86400.0,
        metavar="SECONDS",
        help="delete upload sessions idle for longer than this (default 86400)",
    )
    gc.add_argument(
        "--delete-untagged", action="store_true", help="also delete manifests no tag reaches"
    )
    gc.set_defaults(handler=_gc)

    user = commands.add_parser("user", help="Manage accounts")
    user_commands = user.add_subparsers(dest="user_command", metavar="COMMAND")
    user.set_defaults(handler=lambda args: user.print_help() or 0)
    add = user_commands.add_parser("add", help="Add an account")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true")
    _password_options(add)
    _add_storage(add)
    add.set_defaults(handler=_user_add)
    remove = user_commands.add_parser("remove", help="Remove an account")
    remove.add_argument("name")
    _add_storage(remove)
    remove.set_defaults(handler=_user_remove)
    passwd = user_commands.add_parser("passwd", help="Change a password")
    passwd.add_argument("name")
    passwd.add_argument("--admin", action="store_true", help="also make the user an admin")
    passwd.add_argument("--no-admin", action="store_true", help="also take admin rights away")
    _password_options(passwd)
    _add_storage(passwd)
    passwd.set_defaults(handler=_user_passwd)
    listing = user_commands.add_parser("ls", help="List accounts")
    _add_storage(listing)
    listing.set_defaults(handler=_user_list)

    repo = commands.add_parser("repo", help="Repository settings")
    repo_commands = repo.add_subparsers(dest="repo_command", metavar="COMMAND")
    repo.set_defaults(handler=lambda args: repo.print_help() or 0)
    description = repo_commands.add_parser("set-description", help="Set the description")
    description.add_argument("repo")
    description.add_argument("description")
    _add_storage(description)
    description.set_defaults(handler=_set_description)
    official = repo_commands.add_parser("set-official", help="Mark as an official image")
    official.add_argument("repo")
    official.add_argument("--off", action="store_true", help="remove the official flag")
    _add_storage(official)
    official.set_defaults(handler=_set_official)
    private = repo_commands.add_parser("set-private", help="Make readable only by grantees")
    private.add_argument("repo")
    private.add_argument("--off", action="store_true", help="make it public again")
    _add_storage(private)
    private.set_defaults(handler=_set_private)
    grant = repo_commands.add_parser("grant", help="Give a user pull/push/delete on a repo")
    grant.add_argument("repo", help="repository name or pattern (team/*)")
    grant.add_argument("user")
    grant.add_argument("actions", help="comma-separated: pull,push,delete")
    _add_storage(grant)
    grant.set_defaults(handler=_grant)
    revoke = repo_commands.add_parser("revoke", help="Remove a user's grant")
    revoke.add_argument("repo")
    revoke.add_argument("user")
    _add_storage(revoke)
    revoke.set_defaults(handler=_revoke)
