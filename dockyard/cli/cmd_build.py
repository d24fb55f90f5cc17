"""`build` (Docker 20.10's legacy builder output) and `builder prune`."""

from __future__ import annotations

import argparse
import os
import sys

from dockyard.cli.common import engine_for
from dockyard.errors import DockyardError


def _key_values(items: list[str], flag: str) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep:
            values[key] = value
        else:  # --build-arg NAME takes the caller's value, if any
            values[key] = os.environ.get(key)
    return values


def _context(args: argparse.Namespace, work_dir: str):  # type: ignore[no-untyped-def]
    from dockyard.build import context

    dockerfile_text = None
    if args.file == "-":
        if args.path == "-":
            raise DockyardError(
                "invalid argument: can't use stdin for both build context and dockerfile"
            )
        dockerfile_text = sys.stdin.buffer.read().decode(errors="replace")
    if args.path == "-":
        return context.from_tar(sys.stdin.buffer, args.file, work_dir)
    if args.path.startswith(("http://", "https://")):
        from dockyard.build.remote import fetch_context

        return fetch_context(args.path, args.file, work_dir)
    return context.from_directory(args.path, args.file if args.file != "-" else None,
                                  dockerfile_text, work_dir)  # fmt: skip


def _human(size: int) -> str:
    from dockyard.humanize import human_size

    return human_size(size, 4)


def cmd_build(args: argparse.Namespace) -> int:
    from dockyard.build.builder import BuildError, BuildOptions, build

    if args.network not in ("none", "host", "default"):
        sys.stderr.write(f"network {args.network} not found (build supports none and host)\n")
        return 1
    for label in args.label or []:
        key = label.split("=", 1)[0]
        if any(ch.isspace() for ch in key):
            sys.stderr.write(
                f'invalid argument "{label}" for "--label" flag: label \'{key}\' contains'
                " whitespaces\nSee 'dockyard build --help'.\n"
            )
            return 125
    engine = engine_for(args)
    store = engine.store
    options = BuildOptions(
        tags=list(args.tag or []),
        build_args=_key_values(args.build_arg or [], "--build-arg"),
        target=args.target,
        no_cache=args.no_cache,
        pull=args.pull,
        labels={k: v or "" for k, v in _key_values(args.label or [], "--label").items()},
        network="none" if args.network == "default" else args.network,
        remove=args.rm,
        force_remove=args.force_rm,
    )
    out = sys.stdout
    try:
        ctx = _context(args, str(store.tmp))
    except DockyardError as error:
        sys.stderr.write(f"{error}\n")
        return 1
    image_id = None
    with ctx:
        if not args.quiet:
            out.write(f"Sending build context to Docker daemon  {_human(ctx.size)}\n\n")
            out.flush()
        try:
            for event in build(store, ctx, options, engine.images, engine.containers):
                if "stream" in event and not args.quiet:
                    out.write(event["stream"])
                    out.flush()
                elif "aux" in event:
                    image_id = event["aux"].get("ID")
        except BuildError as error:
            out.flush()
            prefix = "Error response from daemon: " if error.before_output else ""
            sys.stderr.write(f"{prefix}{error}\n")
            return error.code or 1
        except DockyardError as error:
            out.flush()
            prefix = (
                "Error response from daemon: "
                if "dockerfile parse error" in str(error) or "cannot be empty" in str(error)
                else ""
            )
            sys.stderr.write(f"{prefix}{error}\n")
            return 1
    if args.quiet and image_id:
        out.write(f"{image_id}\n")
    if args.iidfile and image_id:
        with open(args.iidfile, "w") as iid:
            iid.write(image_id)
    return 0


def cmd_builder_prune(args: argparse.Namespace) -> int:
    from dockyard.humanize import human_size

    if not args.force:
        sys.stdout.write(
            "WARNING! This will remove all dangling build cache. Are you sure you want to"
            " continue? [y/N] "
        )
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    # The classic builder's cache is its intermediate images: what `image prune` removes.
    report = engine_for(args).images.prune(all=args.all)
    deleted = [entry["Deleted"] for entry in report.deleted if "Deleted" in entry]
    if deleted:
        sys.stdout.write("Deleted build cache objects:\n")
        for image_id in deleted:
            sys.stdout.write(f"{image_id.removeprefix('sha256:')}\n")
        sys.stdout.write("\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(report.reclaimed, 4)}\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("build", help="build an image from a Dockerfile")
    p.add_argument("path", metavar="PATH | URL | -")
    p.add_argument("-t", "--tag", action="append", help="name and optionally a tag")
    p.add_argument("-f", "--file", help="name of the Dockerfile (default: 'PATH/Dockerfile')")
    p.add_argument("--build-arg", action="append", help="set build-time variables")
    p.add_argument("--target", help="set the target build stage to build")
    p.add_argument("--no-cache", action="store_true", help="do not use cache")
    p.add_argument("--pull", action="store_true", help="(the base must be in the store)")
    p.add_argument("-q", "--quiet", action="store_true", help="print the image ID only")
    p.add_argument("--label", action="append", help="set metadata for an image")
    p.add_argument("--iidfile", help="write the image ID to the file")
    p.add_argument("--network", default="default", help="none or host (default none)")
    p.add_argument("--rm", type=lambda v: v.lower() != "false", default=True, nargs="?",
                   const=True, help="remove intermediate containers (default true)")  # fmt: skip
    p.add_argument("--force-rm", action="store_true", help="always remove containers")
    p.set_defaults(handler=cmd_build)
    builder = subparsers.add_parser("builder", help="manage builds")
    sub = builder.add_subparsers(dest="builder_command", metavar="COMMAND")
    prune = sub.add_parser("prune", help="remove build cache (dangling intermediate images)")
    prune.add_argument("-a", "--all", action="store_true", help="remove all unused images")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt")
    prune.set_defaults(handler=cmd_builder_prune)
