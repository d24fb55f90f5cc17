"""`registry repo set-automated|unset-automated` and `registry build REPO`."""

from __future__ import annotations

import argparse
import os
import sys

from dockyard.errors import DockyardError, InvalidArgument


def _meta(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from dockyard.cli.registry_options import open_registry_metadata

    return open_registry_metadata(args)


def _set_automated(args: argparse.Namespace) -> int:
    from dockyard.cli.registry_options import repo_name
    from dockyard.registry.autobuild import set_automated

    source = os.path.abspath(args.source)
    if not os.path.exists(source):
        raise InvalidArgument(f"source {args.source}: no such directory or file")
    try:
        set_automated(_meta(args), repo_name(args.repo), source, args.file, args.tag,
                      args.network)  # fmt: skip
    except ValueError as error:
        raise InvalidArgument(str(error)) from None
    return 0


def _unset_automated(args: argparse.Namespace) -> int:
    from dockyard.registry.autobuild import unset_automated

    if not unset_automated(_meta(args), args.repo):
        raise InvalidArgument(f"{args.repo} is not an automated repository")
    return 0


def _build(args: argparse.Namespace) -> int:
    from dockyard.cli.registry_options import storage_dir
    from dockyard.registry.autobuild import run_build

    try:
        result = run_build(_meta(args), storage_dir(args), args.repo, args.registry,
                           log=lambda line: print(line, flush=True))  # fmt: skip
    except DockyardError as error:
        sys.stderr.write(f"Error: {error}\n")
        return 1
    print(f"automated build of {args.repo}: {result.status}")
    return 0 if result.status == "success" else 1


def register(commands, repo_commands, add_storage) -> None:  # type: ignore[no-untyped-def]
    automated = repo_commands.add_parser(
        "set-automated", help="Build this repository's images from a source (automated build)"
    )
    automated.add_argument("repo")
    automated.add_argument("source", help="a context directory or a context tar")
    automated.add_argument("-f", "--file", default="Dockerfile", help="Dockerfile in the source")
    automated.add_argument("--tag", default="latest", help="tag to build (default latest)")
    automated.add_argument("--network", default="none", help="RUN steps' network: none or host")
    add_storage(automated)
    automated.set_defaults(handler=_set_automated)
    unset = repo_commands.add_parser("unset-automated", help="Stop building this repository")
    unset.add_argument("repo")
    add_storage(unset)
    unset.set_defaults(handler=_unset_automated)
    build = commands.add_parser("build", help="Run an automated repository's build now")
    build.add_argument("repo")
    build.add_argument("--registry", default="127.0.0.1:5000",
                       help="HOST:PORT of this registry (pulls bases, receives the push)")  # fmt: skip
    add_storage(build)
    build.set_defaults(handler=_build)
