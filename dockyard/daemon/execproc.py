"""Processes of `docker exec`: `<runtime> exec --process spec.json` with pipes or a pty.

The container verbs' exec_in_container runs with the caller's own stdio; the
daemon needs the process's stdio for itself, so this adapter takes the same
process spec (containers/execute.py) and starts the runtime with pipes, or with a pseudo-terminal
whose slave is the runtime's controlling terminal (the runtime then resizes
the container's console when it gets SIGWINCH from a resize of the master).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import struct
import subprocess
import tempfile
import termios
from dataclasses import dataclass, field
from typing import Any

from dockyard.containers.execute import process_spec as exec_process
from dockyard.errors import Conflict
from dockyard.runtime.ocirt import get_runtime
from dockyard.runtime.state import read_state


@dataclass
class ExecConfig:
    command: list[str]
    tty: bool = False
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    user: str = ""
    workdir: str = ""
    env: list[str] = field(default_factory=list)
    privileged: bool = False
    detach_keys: str = ""
    console_size: tuple[int, int] | None = None


def process_spec(record: Any, directory: Any, config: ExecConfig) -> dict[str, Any]:
    """The CLI's exec process (containers/execute.py); the API's env holds KEY=VALUE only."""

    return exec_process(
        record,
        directory,
        config.command,
        user=config.user,
        workdir=config.workdir,
        env=[item for item in config.env if "=" in item],
        tty=config.tty,
        console_size=config.console_size,
    )


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class ExecProcess:
    """A started exec: pipes (stdin/stdout/stderr) or a pty master, and the runtime process."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int | None, spec_path: str):
        self.proc = proc
        self.master = master
        self.spec_path = spec_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def wait(self) -> int:
        code = await self.proc.wait()
        try:
            os.unlink(self.spec_path)
        except OSError:
            pass
        return code

    def resize(self, rows: int, cols: int) -> None:
        if self.master is not None:
            set_winsize(self.master, rows, cols)

    def close(self) -> None:
        if self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass
            self.master = None


def _controlling_tty(preexec: Any) -> Any:
    def setup() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if preexec is not None:
            preexec()

    return setup


async def start_exec(record: Any, directory: Any, config: ExecConfig, detach: bool) -> ExecProcess:
    if not read_state(directory).running:
        raise Conflict(f"Container {record.id} is not running")
    spec = process_spec(record, directory, config)
    runtime = get_runtime(record.host_config.get("Runtime") or None)
    fd, spec_path = tempfile.mkstemp(prefix="exec-", suffix=".json", dir=directory)
    with os.fdopen(fd, "w") as out:
        json.dump(spec, out)
    args = ["exec", "--process", spec_path]
    if config.tty:
        args.append("--tty")
    args.append(record.id)
    argv = runtime.argv(*args)
    master: int | None = None
    if config.tty:
        master, slave = os.openpty()
        if config.console_size:
            set_winsize(master, *config.console_size)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                preexec_fn=_controlling_tty(runtime.preexec),
            )
        finally:
            os.close(slave)
        os.set_blocking(master, False)
    else:
        stdin = subprocess.PIPE if config.stdin and not detach else subprocess.DEVNULL
        out = subprocess.PIPE if not detach else subprocess.DEVNULL
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=stdin,
            stdout=out if config.stdout else subprocess.DEVNULL,
            stderr=out if config.stderr else subprocess.DEVNULL,
            preexec_fn=runtime.preexec,
        )
    return ExecProcess(proc, master, spec_path)
