"""`save` and `load`: images to and from docker-archive tars."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from dockyard.cli.common import engine_for
from dockyard.errors import DockyardError, InvalidArgument, NotFound

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import argparse


def cmd_save(args: argparse.Namespace) -> int:
    engine = engine_for(args)
    if not args.output:
        if sys.stdout.isatty():
            raise DockyardError(
                "cowardly refusing to save to a terminal. Use the -o flag or redirect"
            )
        sys.stdout.flush()
        with os.fdopen(os.dup(sys.stdout.fileno()), "wb") as out:
            engine.images.save(args.images, out)
        return 0
    target = Path(args.output)
    directory = target.parent if str(target.parent) else Path(".")
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            engine.images.save(args.images, out)
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return 0


class _LoadProgress:
    """Docker's per-layer 'Loading layer' bars, drawn only on a terminal."""

    def __init__(self) -> None:
        from dockyard.cli.progress import ProgressBars

        self.bars = ProgressBars(sys.stdout)

    def __call__(self, short_id: str, done: int, total: int) -> None:
        self.bars.update(short_id, "Loading layer", done, total)


def cmd_load(args: argparse.Namespace) -> int:
    engine = engine_for(args)
    progress = None
    if not args.quiet and sys.stdout.isatty():
        try:
            progress = _LoadProgress()
        except ImportError:
            progress = None
    if args.input:
        path = Path(args.input)
        if not path.exists():
            raise NotFound(f"open {args.input}: no such file or directory")
        if path.is_dir():
            raise InvalidArgument(f"read {args.input}: is a directory")
        engine.images.load(path, progress=progress, on_line=_print_line)
    else:
        if sys.stdin.isatty():
            raise DockyardError("requested load from stdin, but stdin is empty")
        engine.images.load(sys.stdin.buffer, progress=progress, on_line=_print_line)
    return 0


def _print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _add_save(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("-o", "--output", help="write to a file, instead of STDOUT")
    parser.set_defaults(handler=cmd_save)


def _add_load(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--input", help="read from tar archive file, instead of STDIN")
    parser.add_argument("-q", "--quiet", action="store_true", help="suppress the load output")
    parser.set_defaults(handler=cmd_load)


def cmd_image_copy(args: argparse.Namespace) -> int:
    from dockyard.cli.cmd_registry_client import ConsoleEvents
    from dockyard.cli.main import store_root
    from dockyard.client.events import NoEvents
    from dockyard.imageops.transports import run_copy_image
    from dockyard.places.base import report_to

    events = NoEvents() if args.quiet else ConsoleEvents(sys.stdout)
    run_copy_image(
        args.source,
        args.destination,
        root=Path(store_root(args)),
        source_tls_verify=args.src_tls_verify,
        destination_tls_verify=args.dest_tls_verify,
        compression=args.compression,
        all_images=args.all,
        report=report_to(events),
    )
    return 0


def _tls_verify(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0"):
        raise InvalidArgument(f"invalid boolean {text!r}")
    return text.lower() in ("true", "1")


def _add_copy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE")
    parser.add_argument("destination", metavar="DESTINATION")
    for side in ("src", "dest"):
        parser.add_argument(
            f"--{side}-tls-verify",
            type=_tls_verify,
            nargs="?",
            const=True,
            default=True,
            metavar="BOOL",
            help=f"require HTTPS and verify certificates of the {side} registry",
        )
    parser.add_argument(
        "--compression", choices=("gzip", "zstd"), help="compress layers sent to a registry"
    )
    parser.add_argument(
        "-a", "--all", action="store_true", help="copy an index and every image it lists"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="suppress progress output")
    parser.set_defaults(handler=cmd_image_copy)


def register_image_subcommands(image_sub: argparse._SubParsersAction) -> None:
    _add_save(image_sub.add_parser("save", help="save images to a tar archive"))
    _add_load(image_sub.add_parser("load", help="load images from a tar archive"))
    _add_copy(
        image_sub.add_parser(
            "copy",
            help="copy images between places (docker://, docker-archive:, oci:, oci-archive:,"
            " dockyard:)",
        )
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    _add_save(subparsers.add_parser("save", help="save images to a tar archive"))
    _add_load(subparsers.add_parser("load", help="load images from a tar archive or STDIN"))
