"""`exec`: run another process in a running container via `<runtime> exec --process`."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

from dockyard.containers.create import merge_env
from dockyard.containers.lifecycle import find
from dockyard.datarecord import dataclass, field
from dockyard.errors import Conflict, InvalidArgument
from dockyard.runtime.procenv import container_env
from dockyard.runtime.spec import DEFAULT_CAPS
from dockyard.runtime.state import read_state
from dockyard.runtime.users import resolve_user
from dockyard.store import Store

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from dockyard.containers.record import ContainerRecord


@dataclass
class ExecOptions:
    command: list[str]
    interactive: bool = False
    tty: bool = False
    detach: bool = False
    user: str | None = None
    workdir: str | None = None
    env: list[str] = field(default_factory=list)
    capture_output: bool = False  # stdout and stderr into ExecResult.output


@dataclass
class ExecResult:
    exit_code: int
    output: bytes | None = None  # with capture_output: stdout and stderr, interleaved


def process_spec(
    record: ContainerRecord,
    directory: Path,
    command: list[str],
    *,
    user: str | None = None,
    workdir: str | None = None,
    env: list[str] | None = None,
    tty: bool = False,
    console_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The OCI process of an exec (the CLI's and the daemon's): the container's user, env
    and working directory unless given, the engine's capabilities, no new privileges."""
    if not command:
        raise InvalidArgument("No exec command specified")
    resolved = resolve_user(str(directory / "merged"), user or record.config.get("User") or "")
    hostname = record.config.get("Hostname") or record.id[:12]
    process_env = container_env(
        merge_env(record.config.get("Env") or [], env or []), hostname, tty, resolved
    )
    process: dict[str, Any] = {
        "terminal": tty,
        "user": {
            "uid": resolved.uid,
            "gid": resolved.gid,
            "additionalGids": resolved.additional_gids,
        },
        "args": list(command),
        "env": process_env,
        "cwd": workdir or record.config.get("WorkingDir") or "/",
        "capabilities": {k: list(DEFAULT_CAPS) for k in ("bounding", "effective", "permitted")},
        "noNewPrivileges": True,
    }
    if tty and console_size:
        process["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
    return process


def exec_in_container(store: Store, name: str, options: ExecOptions) -> ExecResult:
    """Run the process with this process's stdio (or its output captured); its exit code."""
    from dockyard.runtime.attach import terminal_size
    from dockyard.runtime.ocirt import get_runtime

    record, directory = find(store, name)
    state = read_state(directory)
    if not state.running:
        raise Conflict(f"Container {record.id} is not running")
    if state.paused:
        raise Conflict(f"Container {name} is paused, unpause the container before exec")
    process = process_spec(
        record,
        directory,
        options.command,
        user=options.user,
        workdir=options.workdir,
        env=options.env,
        tty=options.tty,
        console_size=(terminal_size(0) or terminal_size(1)) if options.tty else None,
    )
    runtime = get_runtime(record.host_config.get("Runtime") or None)
    with tempfile.NamedTemporaryFile("w", dir=directory, prefix="exec-", suffix=".json") as spec:
        json.dump(process, spec)
        spec.flush()
        args = ["exec", "--process", spec.name]
        if options.detach:
            args.append("--detach")
        if options.tty:
            args.append("--tty")
        args.append(record.id)
        stdin = None if options.interactive else subprocess.DEVNULL
        if options.capture_output:
            proc = runtime.popen(
                args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            output, _ = proc.communicate()
            return ExecResult(proc.returncode, output)
        proc = runtime.popen(args, stdin=stdin)
        try:
            return ExecResult(proc.wait())
        except KeyboardInterrupt:
            proc.send_signal(2)
            return ExecResult(proc.wait())


__all__ = ["ExecOptions", "ExecResult", "exec_in_container", "os"]
