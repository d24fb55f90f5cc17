"""`dockyard registry`: serve, migrate, gc, user and repo administration.

aiohttp and the registry modules are imported inside the handlers: the CLI starts fast.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from dockyard.cli.registry_options import (
    metadata_url,
    open_registry_metadata,
    registry_options,
    repo_name,
    storage_dir,
)
from dockyard.errors import InvalidArgument


def _add_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", metavar="DIR", help="registry storage directory")
    parser.add_argument(
        "--metadata",
        metavar="URL",
        help="metadata database: postgresql://USER[:PASS]@HOST:PORT/DB "
        "(default: SQLite in the storage directory)",
    )
    parser.add_argument("--config", metavar="FILE", help="options from a YAML or TOML file")


def _serve(args: argparse.Namespace) -> int:
    from dockyard.registry.clientaddr import parse_proxies
    from dockyard.registry.config import RegistryConfig
    from dockyard.registry.server import parse_addr, serve

    options = registry_options(args)
    host, port = parse_addr(str(options["addr"]))
    parse_proxies(options.get("trusted-proxies") or "")  # one line now, not after listening
    config = RegistryConfig(
        storage=storage_dir(args),
        metadata=options.get("metadata"),
        host=host,
        port=port,
        tls_cert=options.get("tls-cert"),
        tls_key=options.get("tls-key"),
        service=options["service"],
        realm=options.get("realm"),
        token_ttl=options["token-ttl"],
        anonymous_pull=options["anonymous-pull"],
        gc_interval=options["gc-interval"],
        gc_grace=options["gc-grace"],
        upload_grace=options["upload-grace"],
        gc_delete_untagged=options["gc-delete-untagged"],
        catalog_max=options["catalog-max"],
        trusted_proxies=options.get("trusted-proxies") or "",
        s3_keys=_s3_keys(options),
    )
    return serve(config, access_log=options["access-log"], workers=options["workers"])


def _s3_keys(options: dict) -> dict[str, str]:
    names = ("access_key", "secret_key", "session_token")
    return {name: options[f"s3-{name.replace('_', '-')}"] for name in names
            if options.get(f"s3-{name.replace('_', '-')}")}  # fmt: skip


def _gc(args: argparse.Namespace) -> int:
    from dockyard.registry.gc import GcPolicy, collect
    from dockyard.registry.storage import open_driver

    storage = storage_dir(args)
    if metadata_url(args) is None and not os.path.exists(os.path.join(storage, "registry.db")):
        raise InvalidArgument(f"no registry storage at {storage}")
    meta = open_registry_metadata(args)
    try:
        report = collect(
            open_driver(storage, _s3_keys(registry_options(args))),
            meta,
            GcPolicy(
                grace=args.grace,
                upload_grace=args.upload_grace,
                delete_untagged=args.delete_untagged,
                dry_run=args.dry_run,
            ),
        )
    finally:
        meta.close()
    for line in report.lines():
        print(line)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from dockyard.registry import migrations
    from dockyard.registry.metacopy import copy_metadata
    from dockyard.registry.metadata import sqlite_path
    from dockyard.registry.metadata_open import open_metadata

    url = metadata_url(args)
    storage = registry_options(args).get("storage")
    if url is None:
        sqlite_path(None, storage_dir(args))  # a clear error when neither is given
    if args.to is not None and url is None:
        storage = storage_dir(args)
        if not os.path.exists(os.path.join(storage, "registry.db")):
            raise InvalidArgument(f"no registry storage at {storage}")
    meta = open_metadata(url, storage, create=False)
    try:
        applied = migrations.migrate(meta)
        for migration in applied:
            print(f"{meta.url}: applied migration {migration.version} ({migration.name})")
        if not applied:
            print(f"{meta.url}: schema is up to date (version {migrations.LATEST})")
        if args.to is not None:
            target = open_metadata(args.to, None)
            try:
                report = copy_metadata(meta, target)
            finally:
                target.close()
            for line in report.lines():
                print(line)
    finally:
        meta.close()
    return 0


def _accounts(args: argparse.Namespace):
    from dockyard.registry.accounts import Accounts

    return Accounts(open_registry_metadata(args))


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


def _set_description(args: argparse.Namespace) -> int:
    _accounts(args).set_description(repo_name(args.repo), args.description)
    return 0


def _set_official(args: argparse.Namespace) -> int:
    _accounts(args).set_official(repo_name(args.repo), not args.off)
    return 0


def _set_private(args: argparse.Namespace) -> int:
    _accounts(args).set_private(repo_name(args.repo), not args.off)
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
    serve.add_argument("--addr", help="HOST:PORT to listen on (default 127.0.0.1:5000)")
    _add_storage(serve)
    serve.add_argument("--tls-cert", help="certificate (PEM) for HTTPS")
    serve.add_argument("--tls-key", help="private key (PEM) for HTTPS")
    serve.add_argument("--realm", help="token endpoint URL announced to clients")
    serve.add_argument("--service", help="service name in tokens (default dockyard-registry)")
    serve.add_argument("--token-ttl", type=int, metavar="SECONDS", help="token lifetime")
    serve.add_argument(
        "--no-anonymous-pull",
        dest="anonymous_pull",
        action="store_const",
        const=False,
        help="require sign-in to pull public repos",
    )
    serve.add_argument("--gc-interval", type=float, metavar="SECONDS", help="run gc periodically")
    serve.add_argument(
        "--gc-grace",
        type=float,
        metavar="SECONDS",
        help="periodic gc keeps anything younger than this (default 3600)",
    )
    serve.add_argument(
        "--upload-grace",
        type=float,
        metavar="SECONDS",
        help="periodic gc deletes uploads idle for longer than this (default 86400)",
    )
    serve.add_argument(
        "--gc-delete-untagged",
        action="store_const",
        const=True,
        help="periodic gc also deletes manifests no tag reaches",
    )
    serve.add_argument(
        "--catalog-max", type=int, metavar="N", help="most names per catalog page (default 1000)"
    )
    serve.add_argument(
        "--trusted-proxies",
        metavar="ADDRS",
        help="comma-separated addresses or networks of load balancers whose "
        "X-Forwarded-For names the client (for the sign-in limit)",
    )
    serve.add_argument("--access-log", action="store_const", const=True, help="log every request")
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="serve from N processes sharing the port and the storage (default 1)",
    )
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser(
        "migrate", help="Create or upgrade the metadata schema; copy metadata to PostgreSQL"
    )
    _add_storage(migrate)
    migrate.add_argument(
        "--to",
        metavar="URL",
        help="copy the metadata into this (empty) database, e.g. postgresql://USER@HOST:PORT/DB",
    )
    migrate.set_defaults(handler=_migrate)

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

    from dockyard.cli.cmd_registry_build import register as register_automated_builds

    register_automated_builds(commands, repo_commands, _add_storage)
