"""Image commands: images, inspect, history, tag, rmi, import, image prune."""

from __future__ import annotations

import sys
import time

from dockyard.cli.common import add_format_flag, confirm, engine_for, print_inspect
from dockyard.errors import DockyardError, InvalidReference, NotFound

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import argparse
    from typing import Any

IMAGES_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_TABLE_DIGESTS = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)
IMAGES_HEADERS = {
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "ID": "IMAGE ID",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
}
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_TABLE_EXACT = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


def _created_at(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(int(seconds)))


def _image_rows(summaries: list[Any], digests: bool, no_trunc: bool) -> list[dict[str, str]]:
    from dockyard import reference
    from dockyard.humanize import human_size, time_ago

    rows: list[dict[str, str]] = []
    for summary in summaries:
        image_id = summary.id if no_trunc else summary.id.split(":", 1)[1][:12]
        base = {
            "Containers": "N/A",
            "CreatedAt": _created_at(summary.created),
            "CreatedSince": time_ago(summary.created),
            "ID": image_id,
            "SharedSize": "N/A",
            "Size": human_size(summary.size, 3),
            "UniqueSize": "N/A",
            "VirtualSize": human_size(summary.size, 4),
        }
        tags: dict[str, list[str]] = {}
        for text in summary.repo_tags:
            ref = reference.parse(text)
            tags.setdefault(ref.familiar_name, []).append(ref.tag or "")
        by_repo_digests: dict[str, list[str]] = {}
        for text in summary.repo_digests:
            ref = reference.parse(text)
            by_repo_digests.setdefault(ref.familiar_name, []).append(str(ref.digest))
        image_rows: list[dict[str, str]] = []
        for repo in sorted(tags):
            repo_digests = by_repo_digests.pop(repo, []) if digests else []
            by_repo_digests.pop(repo, None)
            for tag in sorted(tags[repo]):
                for digest in repo_digests or ["<none>"]:
                    image_rows.append({**base, "Repository": repo, "Tag": tag, "Digest": digest})
        for repo in sorted(by_repo_digests):
            for digest in by_repo_digests[repo] if digests else ["<none>"]:
                image_rows.append({**base, "Repository": repo, "Tag": "<none>", "Digest": digest})
        if not image_rows:
            image_rows.append({**base, "Repository": "<none>", "Tag": "<none>", "Digest": "<none>"})
        rows.extend(image_rows)
    return rows


def cmd_images(args: argparse.Namespace) -> int:
    from dockyard.cli.table import render_table
    from dockyard.imageops.listing import parse_filters

    engine = engine_for(args)
    filters = parse_filters(args.filter or [])
    if args.reference:
        filters.setdefault("reference", []).append(args.reference)
    summaries = engine.images.list(all=args.all, filters=filters)
    rows = _image_rows(summaries, args.digests, args.no_trunc)
    if args.quiet:
        fmt = "{{.ID}}"
    elif args.format:
        fmt = args.format
    else:
        fmt = IMAGES_TABLE_DIGESTS if args.digests else IMAGES_TABLE
    sys.stdout.write(render_table(fmt, rows, IMAGES_HEADERS))
    return 0


def _inspect_images(args: argparse.Namespace, not_found: str) -> int:
    engine = engine_for(args)
    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for name in args.names:
        try:
            found.append(engine.images.inspect(name))
        except (NotFound, InvalidReference) as error:
            errors.append(not_found.format(name=name, error=error))
    print_inspect(found, args.format) if (found or not args.format) else None
    for error in errors:
        sys.stderr.write(f"Error: {error}\n")
    return 1 if errors else 0


def cmd_inspect(args: argparse.Namespace) -> int:
    if getattr(args, "type", None) == "container":
        return _inspect_containers(args)
    engine = engine_for(args)
    found: list[Any] = []
    errors: list[str] = []
    for name in args.names:
        try:
            found.append(engine.images.inspect(name))
            continue
        except (NotFound, InvalidReference):
            pass
        container = _inspect_container_or_none(args, name)
        if container is not None:
            found.append(container)
        else:
            errors.append(f"No such object: {name}")
    print_inspect(found, args.format) if (found or not args.format) else None
    for error in errors:
        sys.stderr.write(f"Error: {error}\n")
    return 1 if errors else 0


def _inspect_container_or_none(args: argparse.Namespace, name: str) -> Any:
    try:
        return engine_for(args).containers.inspect(name)
    except DockyardError:
        return None


def _inspect_containers(args: argparse.Namespace) -> int:
    found = [c for c in (_inspect_container_or_none(args, n) for n in args.names) if c is not None]
    print_inspect(found, args.format)
    return 0 if len(found) == len(args.names) else 1


def cmd_image_inspect(args: argparse.Namespace) -> int:
    return _inspect_images(args, "{error}")


def cmd_history(args: argparse.Namespace) -> int:
    from dockyard.cli.table import render_table
    from dockyard.humanize import human_size, time_ago
    from dockyard.timeutil import format_rfc3339

    engine = engine_for(args)
    items = engine.images.history(args.image)
    rows = []
    for item in items:
        image_id = item["Id"]
        if not args.no_trunc and image_id.startswith("sha256:"):
            image_id = image_id[7:19]
        created_by = item["CreatedBy"].replace("\t", " ")
        if not args.no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        rows.append(
            {
                "ID": image_id,
                "CreatedSince": time_ago(item["Created"]) if args.human else "",
                "CreatedAt": format_rfc3339(item["Created"]),
                "CreatedBy": created_by,
                "Size": human_size(item["Size"], 3) if args.human else str(item["Size"]),
                "Comment": item["Comment"],
            }
        )
    if args.quiet:
        fmt = "{{.ID}}"
    elif args.format:
        fmt = args.format
    else:
        fmt = HISTORY_TABLE if args.human else HISTORY_TABLE_EXACT
    sys.stdout.write(render_table(fmt, rows, HISTORY_HEADERS))
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    engine_for(args).images.tag(args.source, args.target)
    return 0


def cmd_rmi(args: argparse.Namespace) -> int:
    engine = engine_for(args)
    status = 0
    for name in args.images:
        try:
            items = engine.images.remove(name, force=args.force, prune=not args.no_prune)
        except DockyardError as error:
            sys.stderr.write(f"Error: {error}\n")
            status = 1
            continue
        for item in items:
            for key, value in item.items():
                sys.stdout.write(f"{key}: {value}\n")
    return status


def cmd_import(args: argparse.Namespace) -> int:
    engine = engine_for(args)
    image_id = engine.images.import_(
        args.file, args.reference, message=args.message, changes=args.change
    )
    sys.stdout.write(f"{image_id}\n")
    return 0


def cmd_image_prune(args: argparse.Namespace) -> int:
    from dockyard.humanize import human_size

    if not args.force:
        warning = (
            "WARNING! This will remove all images without at least one container associated"
            " to them.\n"
            if args.all
            else "WARNING! This will remove all dangling images.\n"
        )
        if not confirm(warning + "Are you sure you want to continue? [y/N] "):
            return 0
    report = engine_for(args).images.prune(all=args.all)
    if report.deleted:
        sys.stdout.write("Deleted Images:\n")
        for item in report.deleted:
            for key, value in item.items():
                sys.stdout.write(f"{key.lower()}: {value}\n")
        sys.stdout.write("\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(report.reclaimed, 4)}\n")
    return 0


def _add_images_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    parser.add_argument("-a", "--all", action="store_true", help="show all images")
    parser.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    parser.add_argument("--digests", action="store_true", help="show digests")
    parser.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    parser.add_argument("-f", "--filter", action="append", help="filter output")
    add_format_flag(parser)
    parser.set_defaults(handler=cmd_images)


def _add_inspect_args(parser: argparse.ArgumentParser, handler: Any) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME")
    parser.add_argument("-f", "--format", help="format output using a Go template")
    parser.set_defaults(handler=handler)


def _add_history_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument(
        "-H",
        "--human",
        type=lambda v: v.lower() not in ("false", "0"),
        default=True,
        nargs="?",
        const=True,
        help="print sizes and dates in human readable format (default true)",
    )
    parser.add_argument("--no-trunc", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true")
    add_format_flag(parser)
    parser.set_defaults(handler=cmd_history)


def _add_tag_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    parser.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    parser.set_defaults(handler=cmd_tag)


def _add_rmi_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("-f", "--force", action="store_true", help="force removal of the image")
    parser.add_argument("--no-prune", action="store_true", help="do not delete untagged parents")
    parser.set_defaults(handler=cmd_rmi)


def _add_import_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="file|URL|-")
    parser.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    parser.add_argument("-m", "--message", help="set commit message for imported image")
    parser.add_argument(
        "-c", "--change", action="append", default=[], help="apply Dockerfile instruction"
    )
    parser.set_defaults(handler=cmd_import)


def _add_prune_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true", help="remove all unused images")
    parser.add_argument("-f", "--force", action="store_true", help="do not prompt")
    parser.set_defaults(handler=cmd_image_prune)


def register(subparsers: argparse._SubParsersAction) -> None:
    _add_images_args(subparsers.add_parser("images", help="list images"))
    inspect = subparsers.add_parser("inspect", help="low-level information on objects")
    _add_inspect_args(inspect, cmd_inspect)
    inspect.add_argument("--type", choices=("image", "container"))
    _add_history_args(subparsers.add_parser("history", help="show the history of an image"))
    _add_tag_args(subparsers.add_parser("tag", help="create a tag TARGET that refers to SOURCE"))
    _add_rmi_args(subparsers.add_parser("rmi", help="remove one or more images"))
    _add_import_args(subparsers.add_parser("import", help="import a tarball as an image"))

    image = subparsers.add_parser("image", help="manage images")
    image_sub = image.add_subparsers(dest="image_command", metavar="COMMAND")
    _add_images_args(image_sub.add_parser("ls", aliases=["list"], help="list images"))
    _add_inspect_args(image_sub.add_parser("inspect", help="inspect images"), cmd_image_inspect)
    _add_history_args(image_sub.add_parser("history", help="show the history of an image"))
    _add_tag_args(image_sub.add_parser("tag", help="tag an image"))
    _add_rmi_args(image_sub.add_parser("rm", aliases=["remove"], help="remove images"))
    _add_import_args(image_sub.add_parser("import", help="import a tarball"))
    _add_prune_args(image_sub.add_parser("prune", help="remove unused images"))
    import argparse

    if not isinstance(image_sub, argparse._SubParsersAction):
        return  # `image` was not the command named: its parser is a stub (start-up time)
    try:
        from dockyard.cli import cmd_archive

        cmd_archive.register_image_subcommands(image_sub)
    except ImportError:
        pass
