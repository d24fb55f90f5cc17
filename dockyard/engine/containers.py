"""`engine.containers`: create, run, start, stop, wait, logs, exec, commit, cp ...

The CLI and the daemon both call these. The daemon's `start` alone takes
another road: a monitor must not be forked from a process with threads and
open SQLite connections, so the daemon has its spawner process fork it
(daemon/spawner.py); everything else, the lookups of that start included, is
here. Each method imports the module that does the work when it is called
(start-up time of the CLI's `run`, `ps`, `rm`).
"""

from __future__ import annotations

from dockyard.datarecord import dataclass

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import Any, BinaryIO

    from dockyard.containers.copy import PathStat
    from dockyard.containers.create import CreateOptions
    from dockyard.containers.execute import ExecResult
    from dockyard.containers.listing import ContainerSummary
    from dockyard.containers.record import ContainerRecord
    from dockyard.containers.spawn import Started
    from dockyard.digest import Digest
    from dockyard.runtime.jsonlog import LogEntry
    from dockyard.store import Store


@dataclass
class RunResult:
    id: str
    exit_code: int | None  # None when run detached
    output: bytes  # stdout and stderr as logged, in order (empty when detached)


@dataclass
class ContainerPruneReport:
    deleted: list[str]
    reclaimed: int  # bytes of the removed containers' upper directories


class Containers:
    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------ create, run, start

    def create(
        self,
        image: str,
        command: builtins.list[str] | None = None,
        *,
        name: str | None = None,
        entrypoint: str | None = None,
        env: builtins.list[str] | None = None,
        env_files: builtins.list[str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        hostname: str | None = None,
        network: str = "none",
        volumes: builtins.list[str] | None = None,
        read_only: bool = False,
        init: bool = False,
        tty: bool = False,
        interactive: bool = False,
        attach: bool = False,
        auto_remove: bool = False,
        runtime: str | None = None,
        labels: dict[str, str] | None = None,
        security_opt: builtins.list[str] | None = None,
    ) -> ContainerRecord:
        """A container (not started). entrypoint "" clears the image's; network: none or
        host; volumes: HOST:CONTAINER[:ro]; attach: it will run in the foreground."""
        from dockyard.containers.create import CreateOptions

        return self._create(
            CreateOptions(
                image=image,
                command=list(command or []),
                entrypoint=entrypoint,
                name=name,
                env=list(env or []),
                env_files=list(env_files or []),
                workdir=workdir,
                user=user,
                hostname=hostname,
                network=network,
                volumes=list(volumes or []),
                read_only=read_only,
                init=init,
                tty=tty,
                interactive=interactive,
                attach=attach,
                auto_remove=auto_remove,
                runtime=runtime,
                labels=dict(labels or {}),
                security_opt=list(security_opt or []),
            )
        )

    def _create(self, options: CreateOptions) -> ContainerRecord:
        from dockyard.containers.create import create_container

        return create_container(self.store, options)

    def start(
        self,
        name: str,
        *,
        attach: bool = False,
        stdin: bool = False,
        console_size: tuple[int, int] | None = None,
    ) -> Started | None:
        """Start the container; None when it already runs. With attach, Started.client is
        a socket to its monitor (dockyard.runtime.attach relays it to a terminal)."""
        from dockyard.containers import lifecycle

        record, _ = lifecycle.find(self.store, name)
        # The monitor is forked from this process, and the monitor of an --rm container
        # opens the store: SQLite's per-process lock bookkeeping inherited from a live
        # connection makes that fail ("locking protocol") or hang. The store reconnects
        # on next use.
        self.store.close()
        return lifecycle.start(
            self.store, record, attach_streams=attach, stdin=stdin, console_size=console_size
        )

    def run(
        self,
        image: str,
        command: builtins.list[str] | None = None,
        *,
        detach: bool = False,
        remove: bool = False,
        name: str | None = None,
        entrypoint: str | None = None,
        env: builtins.list[str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        hostname: str | None = None,
        network: str = "none",
        volumes: builtins.list[str] | None = None,
        read_only: bool = False,
        init: bool = False,
        runtime: str | None = None,
        labels: dict[str, str] | None = None,
        security_opt: builtins.list[str] | None = None,
    ) -> RunResult:
        """create + start; unless detach, wait for the exit and return its output (then
        remove the container when asked). A container that cannot start is removed
        with remove, and the error raised (ContainerStartError: exit_code 125-127)."""
        from dockyard.errors import DockyardError

        record = self.create(
            image,
            command,
            name=name,
            entrypoint=entrypoint,
            env=env,
            workdir=workdir,
            user=user,
            hostname=hostname,
            network=network,
            volumes=volumes,
            read_only=read_only,
            init=init,
            runtime=runtime,
            labels=labels,
            security_opt=security_opt,
        )
        try:
            self.start(record.id)
        except DockyardError:
            if remove:
                self.remove(record.id, force=True)
            raise
        if detach:
            return RunResult(record.id, None, b"")
        code = self.wait(record.id)
        output = b"".join(
            entry.text.encode("utf-8", "surrogateescape") for entry in self.logs(record.id)
        )
        if remove:
            self.remove(record.id, force=True)
        return RunResult(record.id, code, output)

    # ------------------------------------------------------------ stop, kill, remove

    def stop(self, name: str, *, timeout: float | None = None) -> bool:
        """Its stop signal, SIGKILL after timeout (default its StopTimeout or 10 s);
        False when it was not running."""
        from dockyard.containers import lifecycle

        return lifecycle.stop(self.store, name, timeout)

    def restart(self, name: str, *, timeout: float | None = None) -> None:
        self.stop(name, timeout=timeout)
        self.start(name)

    def kill(self, name: str, signal: str | int = "SIGKILL") -> None:
        from dockyard.containers import lifecycle

        lifecycle.kill(self.store, name, signal)

    def pause(self, name: str) -> None:
        from dockyard.containers import lifecycle

        lifecycle.pause(self.store, name)

    def unpause(self, name: str) -> None:
        from dockyard.containers import lifecycle

        lifecycle.unpause(self.store, name)

    def wait(self, name: str, *, timeout: float | None = None) -> int | None:
        """Block until it is not running: its exit code (None on timeout)."""
        from dockyard.containers import lifecycle

        _, directory = lifecycle.find(self.store, name)
        return lifecycle.wait_exit(directory, timeout)

    def remove(self, name: str, *, force: bool = False) -> None:
        """Remove a stopped container (force: kill a running one first)."""
        from dockyard.containers import lifecycle

        lifecycle.remove(self.store, name, force)

    def rename(self, name: str, new_name: str) -> None:
        from dockyard.containers import lifecycle

        lifecycle.rename(self.store, name, new_name)

    def prune(
        self, *, filters: dict[str, builtins.list[str]] | None = None
    ) -> ContainerPruneReport:
        """Remove every stopped container (filters: label=KEY[=VALUE])."""
        from dockyard.containers import lifecycle
        from dockyard.errors import DockyardError
        from dockyard.imageops.df import tree_size

        deleted, reclaimed = [], 0
        for summary in self.list(all=True, filters=filters):
            if summary.state.running:
                continue
            size = tree_size(summary.directory / "upper")
            try:
                lifecycle.remove(self.store, summary.id)
            except (DockyardError, OSError):  # removed meanwhile, or started again
                continue
            deleted.append(summary.id)
            reclaimed += size
        return ContainerPruneReport(deleted, reclaimed)

    # ------------------------------------------------------------ looking at containers

    def get(self, name: str) -> ContainerRecord:
        """The container's record (by name, ID or unique ID prefix)."""
        from dockyard.containers import lifecycle

        return lifecycle.find(self.store, name)[0]

    def find(self, name: str) -> tuple[ContainerRecord, Path]:
        """The record and the container's directory (state, log, monitor socket)."""
        from dockyard.containers import lifecycle

        return lifecycle.find(self.store, name)

    def list(
        self,
        *,
        all: bool = False,
        last: int = -1,
        filters: dict[str, builtins.list[str]] | None = None,
    ) -> builtins.list[ContainerSummary]:
        """Newest first; only running ones unless all (or last, or filters) say otherwise.
        filters: status, name, id, ancestor, exited, label, before, since."""
        from dockyard.containers.listing import list_containers

        return list_containers(self.store, all_containers=all, last=last, filters=filters)

    def inspect(self, name: str, *, size: bool = False) -> dict[str, Any]:
        """Docker's inspect document of one container."""
        from dockyard.containers.inspect import inspect_container

        return inspect_container(self.store, name, size=size)

    def logs(
        self,
        name: str,
        *,
        tail: int | None = None,
        follow: bool = False,
        since: float = 0,
        until: float = 0,
    ) -> Iterator[LogEntry]:
        """Its log entries (stream, text, time), the last `tail` ones; with follow, new
        ones as they come until it stops. since/until: Unix times (0: no bound)."""
        from dockyard.containers import lifecycle
        from dockyard.runtime import jsonlog
        from dockyard.runtime.state import read_state

        record, directory = lifecycle.find(self.store, name)
        path = directory / f"{record.id}-json.log"
        if follow:
            entries: Any = jsonlog.follow(path, tail, lambda: read_state(directory).running)
        else:
            entries = jsonlog.read_entries(path, tail)
        if not (since or until):
            return iter(entries)
        return _between(entries, since, until)

    def diff(self, name: str) -> builtins.list[tuple[str, str]]:
        """Changes of its filesystem: ("A" | "C" | "D", "/path"), sorted by path."""
        from dockyard.containers.diff import container_changes

        return container_changes(self.store, name)

    # ------------------------------------------------------------ exec, commit, export

    def exec_run(
        self,
        name: str,
        command: builtins.list[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: builtins.list[str] | None = None,
        tty: bool = False,
        interactive: bool = False,
        detach: bool = False,
        capture_output: bool = True,
    ) -> ExecResult:
        """Run a process in the running container: ExecResult(exit_code, output).
        capture_output=False gives it this process's stdin/stdout/stderr (the CLI)."""
        from dockyard.containers.execute import ExecOptions, exec_in_container

        options = ExecOptions(
            command=list(command),
            interactive=interactive,
            tty=tty,
            detach=detach,
            user=user,
            workdir=workdir,
            env=list(env or []),
            capture_output=capture_output,
        )
        return exec_in_container(self.store, name, options)

    def commit(
        self,
        name: str,
        repository: str | None = None,
        *,
        author: str = "",
        message: str = "",
        changes: builtins.list[str] | None = None,
        pause: bool = True,
        config: dict[str, Any] | None = None,
        container_config: dict[str, Any] | None = None,
        created_by: str | None = None,
        empty_if_unchanged: bool = False,
    ) -> Digest:
        """Its changes as a new image on top of its image; the new image's ID.
        changes: Dockerfile instructions (CMD, ENV, LABEL, ...) applied to the config.
        The builder's steps (dockyard.build) set the image's config and container_config,
        the history text, and record an unchanged container as an empty_layer step."""
        from dockyard.containers.commit import CommitOptions, commit_container

        options = CommitOptions(
            repo_tag=repository,
            author=author,
            message=message,
            changes=list(changes or []),
            pause=pause,
            config=config,
            container_config=container_config,
            created_by=created_by,
            empty_if_unchanged=empty_if_unchanged,
        )
        return commit_container(self.store, name, options)

    def export(self, name: str, out: BinaryIO) -> None:
        """Its merged filesystem as one flat tar, written to out."""
        from dockyard.containers.export import export_container

        export_container(self.store, name, out)

    # ------------------------------------------------------------ cp

    def stat_path(self, name: str, path: str) -> PathStat:
        """lstat of a path inside the container (symlinks resolved inside it)."""
        from dockyard.containers.copy import stat_path

        return stat_path(self.store, name, path)

    def get_archive(
        self,
        name: str,
        path: str,
        out: BinaryIO,
        *,
        follow_link: bool = False,
        on_stat: Callable[[PathStat], None] | None = None,
    ) -> PathStat:
        """A tar of the path (entries named from its basename) written to out."""
        from dockyard.containers.copy import copy_to_stream

        return copy_to_stream(self.store, name, path, out, follow_link, on_stat)

    def put_archive(
        self,
        name: str,
        path: str,
        source: BinaryIO,
        *,
        copy_uid_gid: bool = False,
        no_overwrite_dir_non_dir: bool = True,
    ) -> None:
        """Extract a tar (plain or compressed) into the container directory path;
        nothing is ever written outside the container (containers/copy.py)."""
        from dockyard.containers.copy import copy_from_stream

        copy_from_stream(self.store, name, path, source, copy_uid_gid, no_overwrite_dir_non_dir)

    def copy(self, source: str, destination: str, *, follow_link: bool = False) -> None:
        """`cp` between a host path and CONTAINER:PATH, either way."""
        from dockyard.containers.copy import copy

        copy(self.store, source, destination, follow_link=follow_link)


def _between(entries: Any, since: float, until: float) -> Iterator[LogEntry]:
    from dockyard.timeutil import parse_rfc3339_or_zero

    for entry in entries:
        when = parse_rfc3339_or_zero(entry.time) or 0
        if (since and when < since) or (until and when > until):
            continue
        yield entry
