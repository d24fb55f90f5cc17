"""Container commands: run, create, start, stop, kill, restart, rm, ps, logs, wait,
attach, exec, diff, export, cp, rename, commit and the `container` group."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from dockyard.errors import DockyardError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

PS_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
PS_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Status": "STATUS",
    "Ports": "PORTS",
    "Names": "NAMES",
    "Size": "SIZE",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "State": "STATE",
    "LocalVolumes": "LOCAL VOLUMES",
}


def _containers(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """engine.containers on the chosen root."""
    from dockyard.cli.common import engine_for

    return engine_for(args).containers


def _usage_error(command: str, message: str, code: int = 125) -> int:
    sys.stderr.write(
        f"dockyard: {message}\n\nRun 'dockyard {command} --help' for more information\n"
    )
    return code


def _each(names: list[str], action: Any) -> int:
    """Run action(name) for every name; print the name on success, errors on stderr."""
    failed = False
    for name in names:
        try:
            action(name)
        except DockyardError as error:
            sys.stderr.write(f"Error response from daemon: {error}\n")
            failed = True
            continue
        sys.stdout.write(f"{name}\n")
    sys.stdout.flush()
    return 1 if failed else 0


# ---------------------------------------------------------------- create / run


def _create(containers: Any, args: argparse.Namespace, foreground: bool) -> Any:
    labels = {}
    for item in args.label or []:
        key, _, value = item.partition("=")
        labels[key] = value
    return containers.create(
        args.image,
        list(args.command or []),
        entrypoint=args.entrypoint,
        name=args.name,
        env=list(args.env or []),
        env_files=list(args.env_file or []),
        workdir=args.workdir,
        user=args.user,
        hostname=args.hostname,
        network=args.network,
        volumes=list(args.volume or []),
        read_only=args.read_only,
        init=args.init,
        tty=args.tty,
        interactive=args.interactive,
        attach=foreground,
        auto_remove=getattr(args, "rm", False),
        runtime=args.runtime,
        labels=labels,
        security_opt=list(args.security_opt or []),
    )


def _not_a_tty() -> int:
    sys.stderr.write("the input device is not a TTY\n")
    return 1


def cmd_create(args: argparse.Namespace) -> int:
    containers = _containers(args)
    try:
        record = _create(containers, args, foreground=False)
    except DockyardError as error:
        return _usage_error("create", str(error))
    print(record.id)
    return 0


def _relay(client: Any, *, stdin: bool, tty: bool, directory: Any) -> int:
    from dockyard.runtime import attach
    from dockyard.runtime.state import read_state

    try:
        with attach.raw_terminal(0, tty and stdin):
            code = attach.relay(client, stdin=stdin, tty=tty)
    except (attach.MonitorGone, ConnectionError):
        from dockyard.containers.lifecycle import wait_exit

        code = wait_exit(directory, 5)
        code = read_state(directory).exit_code if code is None else code
        if not os.path.isdir(directory):  # removed (--rm): its exit status is not known
            sys.stderr.write("Error: the container's monitor went away without its exit status\n")
            code = 125
    finally:
        client.close()
    if code == attach.DETACHED:
        return 0
    return code


def _console_size(tty: bool) -> tuple[int, int] | None:
    if not tty:
        return None
    from dockyard.runtime.attach import terminal_size

    return terminal_size(0) or terminal_size(1)


def cmd_run(args: argparse.Namespace) -> int:
    from dockyard.containers import lifecycle
    from dockyard.containers.create import container_dir

    if args.tty and args.interactive and not args.detach and not os.isatty(0):
        return _not_a_tty()
    containers = _containers(args)
    try:
        record = _create(containers, args, foreground=not args.detach)
    except DockyardError as error:
        return _usage_error("run", str(error))
    directory = container_dir(containers.store, record.id)
    foreground = not args.detach
    try:
        started = containers.start(
            record.id,
            attach=foreground,
            stdin=args.interactive and foreground,
            console_size=_console_size(args.tty),
        )
    except lifecycle.ContainerStartError as error:
        if args.rm:
            try:
                containers.remove(record.id, force=True)
            except DockyardError:
                pass
        return _usage_error("run", str(error), error.exit_code)
    if not foreground:
        print(record.id)
        return 0
    assert started is not None and started.client is not None
    return _relay(started.client, stdin=args.interactive, tty=args.tty, directory=directory)


def _add_create_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open")
    parser.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    parser.add_argument("--name", help="assign a name to the container")
    parser.add_argument("-e", "--env", action="append", help="set environment variables")
    parser.add_argument(
        "--env-file", action="append", help="read in a file of environment variables"
    )
    parser.add_argument("-w", "--workdir", help="working directory inside the container")
    parser.add_argument("-u", "--user", help="username or UID (format: <name|uid>[:<group|gid>])")
    parser.add_argument("--entrypoint", help="overwrite the default ENTRYPOINT of the image")
    parser.add_argument("-h", "--hostname", help="container host name")
    parser.add_argument("--network", "--net", default="none", help="network mode: none or host")
    parser.add_argument("-v", "--volume", action="append", help="bind mount HOST:CONTAINER[:ro]")
    parser.add_argument(
        "--read-only", action="store_true", help="mount the root filesystem read-only"
    )
    parser.add_argument("--init", action="store_true", help="run an init inside the container")
    parser.add_argument("-l", "--label", action="append", help="set metadata on a container")
    parser.add_argument("--runtime", help="runtime to use for this container (crun, runc)")
    parser.add_argument(
        "--security-opt",
        action="append",
        help="security options (seccomp=unconfined|PROFILE.json, no-new-privileges)",
    )
    parser.add_argument("--pull", default="missing", help="pull image before running (never here)")
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")


# ---------------------------------------------------------------- start / attach


def cmd_start(args: argparse.Namespace) -> int:
    from dockyard.containers import lifecycle

    containers = _containers(args)
    if not (args.attach or args.interactive):
        return _each(args.containers, containers.start)
    if len(args.containers) > 1:
        sys.stderr.write("you cannot start and attach multiple containers at once\n")
        return 1
    record, directory = containers.find(args.containers[0])
    stdin = args.interactive and record.open_stdin
    if record.tty and stdin and not os.isatty(0):
        return _not_a_tty()
    try:
        started = containers.start(
            record.id,
            attach=True,
            stdin=stdin,
            console_size=_console_size(record.tty),
        )
    except lifecycle.ContainerStartError as error:
        sys.stderr.write(f"Error response from daemon: {error}\n")
        return error.exit_code
    except DockyardError as error:
        sys.stderr.write(f"Error response from daemon: {error}\n")
        return 1
    if started is None:
        return _attach(record, directory, stdin)
    assert started.client is not None
    return _relay(started.client, stdin=stdin, tty=record.tty, directory=directory)


def _attach(record: Any, directory: Any, stdin: bool) -> int:
    from dockyard.runtime import stream
    from dockyard.runtime.state import read_state

    state = read_state(directory)
    if not state.running:
        sys.stderr.write("You cannot attach to a stopped container, start it first\n")
        return 1
    if state.paused:
        sys.stderr.write("You cannot attach to a paused container, unpause it first\n")
        return 1
    if record.tty and stdin and not os.isatty(0):
        return _not_a_tty()
    try:
        client = stream.connect(directory)
    except OSError:
        sys.stderr.write("You cannot attach to a stopped container, start it first\n")
        return 1
    return _relay(client, stdin=stdin, tty=record.tty, directory=directory)


def cmd_attach(args: argparse.Namespace) -> int:
    record, directory = _containers(args).find(args.container)
    return _attach(record, directory, record.open_stdin and not args.no_stdin)


# ---------------------------------------------------------------- stop / kill / rm / wait


def cmd_stop(args: argparse.Namespace) -> int:
    containers = _containers(args)
    return _each(args.containers, lambda name: containers.stop(name, timeout=args.time))


def cmd_restart(args: argparse.Namespace) -> int:
    containers = _containers(args)
    return _each(args.containers, lambda name: containers.restart(name, timeout=args.time))


def cmd_pause(args: argparse.Namespace) -> int:
    return _each(args.containers, _containers(args).pause)


def cmd_unpause(args: argparse.Namespace) -> int:
    return _each(args.containers, _containers(args).unpause)


def cmd_kill(args: argparse.Namespace) -> int:
    containers = _containers(args)
    return _each(args.containers, lambda name: containers.kill(name, args.signal))


def cmd_rm(args: argparse.Namespace) -> int:
    containers = _containers(args)
    return _each(args.containers, lambda name: containers.remove(name, force=args.force))


def cmd_wait(args: argparse.Namespace) -> int:
    containers = _containers(args)
    failed = False
    for name in args.containers:
        try:
            code = containers.wait(name)
        except DockyardError as error:
            sys.stderr.write(f"Error response from daemon: {error}\n")
            failed = True
            continue
        print(code, flush=True)
    return 1 if failed else 0


def cmd_rename(args: argparse.Namespace) -> int:
    _containers(args).rename(args.container, args.new_name)
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    if not args.force:
        sys.stdout.write(
            "WARNING! This will remove all stopped containers.\n"
            "Are you sure you want to continue? [y/N] "
        )
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    report = _containers(args).prune()
    if report.deleted:
        deleted = report.deleted
        sys.stdout.write("Deleted Containers:\n" + "".join(f"{cid}\n" for cid in deleted) + "\n")
    sys.stdout.write("Total reclaimed space: 0B\n")
    return 0


# ---------------------------------------------------------------- ps / logs / inspect


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _size_text(size_rw: int, size_root_fs: int) -> str:
    """The docker CLI's SIZE: "2B (virtual 1.24MB)"."""
    from dockyard.humanize import human_size

    if size_root_fs > 0:
        return f"{human_size(size_rw)} (virtual {human_size(size_root_fs)})"
    return human_size(size_rw)


def ps_rows(
    store: Any, summaries: list[Any], no_trunc: bool, sizes: bool = False
) -> list[dict[str, str]]:
    from dockyard.containers.listing import (
        command_text,
        container_sizes,
        image_text,
        status_text,
    )
    from dockyard.humanize import time_ago

    rows = []
    now = time.time()
    for summary in summaries:
        command = command_text(summary.record)
        mounts = [b.split(":")[0] for b in summary.record.host_config.get("Binds") or []]
        labels = summary.record.config.get("Labels") or {}
        rows.append(
            {
                "Command": _go_quote(command if no_trunc else _ellipsis(command, 20)),
                "CreatedAt": time.strftime(
                    "%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(int(summary.created))
                ),
                "ID": summary.id if no_trunc else summary.id[:12],
                "Image": image_text(store, summary),
                "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
                "LocalVolumes": "0",
                "Mounts": ",".join(mounts),
                "Names": summary.name,
                "Networks": summary.record.network,
                "Ports": "",
                "RunningFor": time_ago(summary.created, now),
                "Size": _size_text(*container_sizes(store, summary)) if sizes else "0B",
                "State": summary.state.status,
                "Status": status_text(summary.state, now),
            }
        )
    return rows


def _render_table(fmt: str, rows: list[dict[str, str]], headers: dict[str, str]) -> str:
    """Docker's table output (Go tabwriter, padding 3) or one template line per row."""
    from dockyard.cli.gotemplate import render

    if not fmt.startswith("table"):
        return "".join(render(fmt, row) + "\n" for row in rows)
    body = fmt[len("table") :].strip()
    lines = [render(body, headers)] + [render(body, row) for row in rows]
    cells = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for row in cells:
        for index, cell in enumerate(row[:-1]):
            widths[index] = max(widths.get(index, 0), len(cell))
    out = []
    for row in cells:
        parts = [cell.ljust(widths[i] + 3) for i, cell in enumerate(row[:-1])] + row[-1:]
        out.append("".join(parts).rstrip() + "\n")
    return "".join(out)


def cmd_ps(args: argparse.Namespace) -> int:
    from dockyard.containers.listing import parse_filters

    containers = _containers(args)
    last = 1 if args.latest else args.last
    summaries = containers.list(all=args.all, last=last, filters=parse_filters(args.filter or []))
    if args.quiet:
        for summary in summaries:
            print(summary.id if args.no_trunc else summary.id[:12])
        return 0
    fmt = args.format or PS_TABLE
    if fmt == "table":
        fmt = PS_TABLE
    if args.size and fmt == PS_TABLE:
        fmt += "\t{{.Size}}"
    sizes = args.size or ".Size" in fmt
    rows = ps_rows(containers.store, summaries, args.no_trunc, sizes)
    if fmt == "json":
        from dockyard.gojson import go_json

        for row in rows:
            print(go_json(row))
        return 0
    try:
        from dockyard.cli.table import render_table
    except ImportError:  # the shared table module is not in this build yet
        render_table = _render_table
    sys.stdout.write(render_table(fmt, rows, PS_HEADERS))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    tail = None if args.tail in (None, "all") else int(args.tail)
    entries = _containers(args).logs(args.container, tail=tail, follow=args.follow)
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for entry in entries:
        text = entry.text.encode("utf-8", "surrogateescape")
        if args.timestamps:
            text = entry.time.encode() + b" " + text
        target = err if entry.stream == "stderr" else out
        target.write(text)
        if args.follow:
            target.flush()
    out.flush()
    err.flush()
    return 0


def cmd_container_inspect(args: argparse.Namespace) -> int:
    from dockyard.cli.common import print_inspect

    containers = _containers(args)
    found, errors = [], []
    for name in args.containers:
        try:
            found.append(containers.inspect(name, size=args.size))
        except DockyardError as error:
            errors.append(str(error))
    if found or not args.format:
        print_inspect(found, args.format)
    for error in errors:
        sys.stderr.write(f"Error: {error}\n")
    return 1 if errors else 0


# ---------------------------------------------------------------- exec


def cmd_exec(args: argparse.Namespace) -> int:
    if args.tty and args.interactive and not args.detach and not os.isatty(0):
        return _not_a_tty()
    try:
        result = _containers(args).exec_run(
            args.container,
            list(args.command),
            interactive=args.interactive,
            tty=args.tty,
            detach=args.detach,
            user=args.user,
            workdir=args.workdir,
            env=list(args.env or []),
            capture_output=False,
        )
        return result.exit_code
    except DockyardError as error:
        sys.stderr.write(f"Error response from daemon: {error}\n")
        return error.exit_code


# ---------------------------------------------------------------- diff / export / cp / commit


def cmd_diff(args: argparse.Namespace) -> int:
    try:
        changes = _containers(args).diff(args.container)
    except DockyardError as error:
        sys.stderr.write(f"Error response from daemon: {error}\n")
        return 1
    sys.stdout.write("".join(f"{kind} {path}\n" for kind, path in changes))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    containers = _containers(args)
    if not args.output and os.isatty(1):
        sys.stderr.write("cowardly refusing to save to a terminal. Use the -o flag or redirect\n")
        return 1
    try:
        if args.output:
            tmp = f"{args.output}.dockyard-tmp"
            with open(tmp, "wb") as out:
                os.fchmod(out.fileno(), 0o600)
                containers.export(args.container, out)
            os.replace(tmp, args.output)
        else:
            containers.export(args.container, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    except DockyardError as error:
        if args.output:
            try:
                os.unlink(f"{args.output}.dockyard-tmp")
            except OSError:
                pass
        sys.stderr.write(f"Error response from daemon: {error}\n")
        return 1
    return 0


def cmd_cp(args: argparse.Namespace) -> int:
    from dockyard.containers.copy import NotADirectoryDestination, split_target

    source, destination = split_target(args.source), split_target(args.destination)
    containers = _containers(args)
    try:
        if source[0] is not None and destination == (None, "-"):
            containers.get_archive(
                source[0], source[1], sys.stdout.buffer, follow_link=args.follow_link
            )
            sys.stdout.buffer.flush()
        elif source == (None, "-") and destination[0] is not None:
            containers.put_archive(
                destination[0], destination[1], sys.stdin.buffer, copy_uid_gid=args.archive
            )
        else:
            containers.copy(args.source, args.destination, follow_link=args.follow_link)
    except NotADirectoryDestination:  # the docker CLI's own words for it
        sys.stderr.write(
            f'Error response from daemon: destination "{args.destination}" must be a directory\n'
        )
        return 1
    except DockyardError as error:
        sys.stderr.write(f"Error response from daemon: {error}\n")
        return 1
    return 0


def cmd_commit(args: argparse.Namespace) -> int:
    image_id = _containers(args).commit(
        args.container,
        args.repository,
        author=args.author or "",
        message=args.message or "",
        changes=list(args.change or []),
        pause=args.pause,
    )
    print(image_id)
    return 0


# ---------------------------------------------------------------- registration


def _bool_flag(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "")


def _add(sub: Any, names: list[str], help_text: str, handler: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(names[0], aliases=names[1:], help=help_text, add_help=False)
    parser.add_argument("--help", action="help", help="show this help message and exit")
    parser.set_defaults(handler=handler)
    return parser


def _register_verbs(sub: Any, prefix: str = "") -> None:
    """Verbs that exist both at the top level and under `container`."""
    p = _add(sub, ["create"], "create a new container", cmd_create)
    _add_create_flags(p)

    p = _add(sub, ["run"], "create and run a new container from an image", cmd_run)
    p.add_argument(
        "-d", "--detach", action="store_true", help="run in the background, print the ID"
    )
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    _add_create_flags(p)

    p = _add(sub, ["start"], "start stopped containers", cmd_start)
    p.add_argument("-a", "--attach", action="store_true", help="attach STDOUT/STDERR")
    p.add_argument("-i", "--interactive", action="store_true", help="attach STDIN")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")

    for name, handler, text in (
        ("stop", cmd_stop, "stop running containers"),
        ("restart", cmd_restart, "restart containers"),
    ):
        p = _add(sub, [name], text, handler)
        p.add_argument(
            "-t", "--time", type=float, default=None, help="seconds to wait before killing"
        )
        p.add_argument("containers", nargs="+", metavar="CONTAINER")

    p = _add(sub, ["pause"], "pause all processes within containers", cmd_pause)
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p = _add(sub, ["unpause"], "unpause all processes within containers", cmd_unpause)
    p.add_argument("containers", nargs="+", metavar="CONTAINER")

    p = _add(sub, ["kill"], "kill running containers", cmd_kill)
    p.add_argument("-s", "--signal", default="KILL", help="signal to send")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")

    p = _add(sub, ["rm"] if not prefix else ["rm", "remove"], "remove containers", cmd_rm)
    p.add_argument("-f", "--force", action="store_true", help="kill a running container first")
    p.add_argument("-v", "--volumes", action="store_true", help="(no anonymous volumes here)")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")

    p = _add(sub, ["logs"], "fetch the logs of a container", cmd_logs)
    p.add_argument("-f", "--follow", action="store_true", help="follow log output")
    p.add_argument("-n", "--tail", default="all", help="lines from the end")
    p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    p.add_argument("container", metavar="CONTAINER")

    p = _add(sub, ["wait"], "block until containers stop, print their exit codes", cmd_wait)
    p.add_argument("containers", nargs="+", metavar="CONTAINER")

    p = _add(sub, ["attach"], "attach to a running container", cmd_attach)
    p.add_argument("--no-stdin", action="store_true", help="do not attach STDIN")
    p.add_argument("--sig-proxy", default="true", help="proxy signals (always on)")
    p.add_argument("container", metavar="CONTAINER")

    p = _add(sub, ["exec"], "run a command in a running container", cmd_exec)
    p.add_argument("-d", "--detach", action="store_true", help="run in the background")
    p.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    p.add_argument("-u", "--user", help="username or UID")
    p.add_argument("-w", "--workdir", help="working directory")
    p.add_argument("-e", "--env", action="append", help="set environment variables")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")

    p = _add(sub, ["diff"], "changes to files or directories of a container", cmd_diff)
    p.add_argument("container", metavar="CONTAINER")

    p = _add(sub, ["export"], "export a container's filesystem as a tar archive", cmd_export)
    p.add_argument("-o", "--output", help="write to a file instead of STDOUT")
    p.add_argument("container", metavar="CONTAINER")

    p = _add(sub, ["cp"], "copy files between a container and the local filesystem", cmd_cp)
    p.add_argument("-L", "--follow-link", action="store_true", help="follow symlinks in SRC")
    p.add_argument(
        "-a",
        "--archive",
        action="store_true",
        help="keep uid/gid (always for files; tar streams too)",
    )
    p.add_argument("source", metavar="SRC")
    p.add_argument("destination", metavar="DEST")

    p = _add(sub, ["rename"], "rename a container", cmd_rename)
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("new_name", metavar="NEW_NAME")

    p = _add(sub, ["commit"], "create a new image from a container's changes", cmd_commit)
    p.add_argument("-a", "--author", help="author")
    p.add_argument("-m", "--message", help="commit message")
    p.add_argument("-c", "--change", action="append", help="apply Dockerfile instruction")
    p.add_argument(
        "-p",
        "--pause",
        type=_bool_flag,
        nargs="?",
        const=True,
        default=True,
        help="pause the container during commit (default true)",
    )
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")

    p = _add(sub, ["ps"] if not prefix else ["ls", "ps", "list"], "list containers", cmd_ps)
    p.add_argument("-a", "--all", action="store_true", help="show all containers")
    p.add_argument("-q", "--quiet", action="store_true", help="only display IDs")
    p.add_argument("-l", "--latest", action="store_true", help="show the latest created container")
    p.add_argument("-n", "--last", type=int, default=-1, help="show n last created containers")
    p.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    p.add_argument("-s", "--size", action="store_true", help="display total file sizes")
    p.add_argument("-f", "--filter", action="append", help="filter output (status, name, ...)")
    p.add_argument("--format", help="format output using a Go template")


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_verbs(subparsers)
    container = subparsers.add_parser("container", help="manage containers")
    sub = container.add_subparsers(dest="container_command", metavar="COMMAND")
    _register_verbs(sub, prefix="container")
    p = _add(sub, ["inspect"], "display detailed information on containers", cmd_container_inspect)
    p.add_argument("-f", "--format", help="format output using a Go template")
    p.add_argument("-s", "--size", action="store_true", help="display total file sizes")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p = _add(sub, ["prune"], "remove all stopped containers", cmd_prune)
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument("--filter", action="append", help="provide filter values")
