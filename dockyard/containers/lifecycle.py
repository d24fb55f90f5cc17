"""Starting, signalling, stopping, waiting for and removing containers."""

from __future__ import annotations

import os
import signal as signals
import time
from pathlib import Path

from dockyard.containers import record as records
from dockyard.containers.create import container_dir
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.runtime import rootfs
from dockyard.runtime.state import read_state
from dockyard.store import Store

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from dockyard.containers.spawn import Started

# The monitor, attach and stream modules (and socket, subprocess, ctypes with them) are
# imported by the functions that start or talk to a monitor: many commands only need
# `find` or `remove` (start-up time).


class ContainerStartError(DockyardError):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def find(store: Store, text: str) -> tuple[records.ContainerRecord, Path]:
    row = store.find_container(text)
    directory = container_dir(store, row.id)
    try:
        record = records.load(directory)
    except FileNotFoundError:
        raise NotFound(f"No such container: {text}") from None
    record.name = row.name
    return record, directory


def start(
    store: Store,
    record: records.ContainerRecord,
    *,
    attach_streams: bool = False,
    stdin: bool = False,
    console_size: tuple[int, int] | None = None,
) -> Started | None:
    """Start the container; None when it already runs. With attach_streams, Started.client is connected."""
    directory = container_dir(store, record.id)
    state = read_state(directory)
    if state.paused:
        raise Conflict("cannot start a paused container, try unpause instead")
    if state.running:
        return None
    from dockyard.containers.monitor import Launch
    from dockyard.containers.spawn import StartFailed, start_monitor

    launch = Launch(
        directory,
        store.root,
        console_size=console_size,
        attach_stdin=stdin,
        attach_stdout=True,
        attach_stderr=True,
    )
    try:
        return start_monitor(launch, attach=attach_streams)
    except StartFailed as error:
        raise ContainerStartError(str(error), error.exit_code) from None


def parse_signal(text: str | int) -> int:
    if isinstance(text, int) or str(text).isdigit():
        number = int(text)
        if number <= 0 or number >= signals.NSIG:
            raise InvalidArgument(f"Invalid signal: {text}")
        return number
    name = str(text).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signals.Signals[name])
    except KeyError:
        raise InvalidArgument(f"Invalid signal: {text}") from None


def send_signal(directory: Path, record: records.ContainerRecord, signum: int) -> None:
    state = read_state(directory)
    if not state.running or not state.pid:
        raise Conflict(
            f"Cannot kill container: {record.name}: Container {record.id} is not running"
        )
    try:
        pidfd = os.pidfd_open(state.pid)
    except ProcessLookupError:
        return
    try:
        # The pid is only ours while the monitor still records it as the container's.
        if read_state(directory).pid == state.pid:
            signals.pidfd_send_signal(pidfd, signum)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)
    if state.paused:
        _unpause_after_signal(directory, record, signum)


def _ask_monitor(directory: Path, record: records.ContainerRecord, kind: str) -> None:
    """Send the monitor a control request (pause, resume) and wait for its answer."""
    import json

    from dockyard.runtime import stream

    not_running = Conflict(f"Container {record.id} is not running")
    try:
        sock = stream.connect(directory)
    except OSError:
        raise not_running from None
    with sock:
        sock.settimeout(60)
        try:
            sock.sendall(stream.control({"type": kind}))
        except (BrokenPipeError, ConnectionResetError):  # the monitor is finishing
            raise not_running from None
        reader = stream.FrameReader()
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                raise not_running
            for frame_kind, payload in reader.feed(data):
                if frame_kind != stream.CONTROL:
                    continue
                message = json.loads(payload)
                if message.get("type") == "exit":
                    raise not_running
                if message.get("type") == f"{kind}-result":
                    if message.get("error"):
                        raise Conflict(message["error"])
                    return


def pause(store: Store, text: str) -> None:
    """Freeze every process of the container (the runtime's cgroup freezer)."""
    record, directory = find(store, text)
    state = read_state(directory)
    if not state.running:
        raise Conflict(f"Container {record.id} is not running")
    if state.paused:
        raise Conflict(f"Container {record.id} is already paused")
    _ask_monitor(directory, record, "pause")


def unpause(store: Store, text: str) -> None:
    record, directory = find(store, text)
    state = read_state(directory)
    if not state.running:
        raise Conflict(f"Container {record.id} is not running")
    if not state.paused:
        raise Conflict(f"Container {record.id} is not paused")
    _ask_monitor(directory, record, "resume")


def _unpause_after_signal(directory: Path, record: records.ContainerRecord, signum: int) -> None:
    """Docker's rule: a paused container is thawed after SIGKILL or its stop signal (any
    signal when the image sets none), so that the signal is delivered."""
    if not read_state(directory).paused:
        return
    stop_signal = record.config.get("StopSignal")
    if stop_signal and signum != signals.SIGKILL and parse_signal(stop_signal) != signum:
        return
    try:
        _ask_monitor(directory, record, "resume")
    except Conflict:
        pass


def wait_exit(directory: Path, timeout: float | None = None) -> int | None:
    """Block until the container is not running; its exit code (None on timeout)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    if read_state(directory).running:
        from dockyard.runtime import attach, stream

        try:
            sock = stream.connect(directory)
        except OSError:
            sock = None
        if sock is not None:
            with sock:
                sock.settimeout(timeout)
                try:
                    attach.wait_exit(sock)
                except TimeoutError:
                    return None
                except (attach.MonitorGone, OSError):
                    pass
    while True:
        state = read_state(directory)
        if not state.running:
            return state.exit_code
        if deadline is not None and time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def stop(store: Store, text: str, timeout: float | None = None) -> bool:
    """Stop signal, then SIGKILL after timeout; False when it was not running."""
    record, directory = find(store, text)
    if not read_state(directory).running:
        return False
    stop_signal = parse_signal(record.config.get("StopSignal") or "SIGTERM")
    if timeout is None:
        timeout = float(record.config.get("StopTimeout") or 10)
    try:
        send_signal(directory, record, stop_signal)
    except Conflict:
        return True
    if wait_exit(directory, timeout) is None:
        try:
            send_signal(directory, record, signals.SIGKILL)
        except Conflict:
            return True
        wait_exit(directory, 30)
    return True


def kill(store: Store, text: str, signal: str | int = "SIGKILL") -> None:
    record, directory = find(store, text)
    send_signal(directory, record, parse_signal(signal))


def remove(store: Store, text: str, force: bool = False) -> None:
    record, directory = find(store, text)
    state = read_state(directory)
    if state.running:
        if not force:
            procedure = "Stop the container before attempting removal or force remove"
            if state.paused:
                procedure = "Unpause and then " + procedure.lower()
            raise Conflict(f"You cannot remove a {state.status} container {record.id}. {procedure}")
        try:
            send_signal(directory, record, signals.SIGKILL)
        except Conflict:
            pass
        wait_exit(directory, 30)
    store.remove_container(record.id)
    rootfs.remove(directory)


def rename(store: Store, text: str, new_name: str) -> None:
    from dockyard.containers.names import check_name

    record, directory = find(store, text)
    new = check_name(new_name)
    if new == record.name:
        raise Conflict(
            "Error when allocating new name: Renaming a container with the same name as its current name"
        )
    store.rename_container(record.id, new)
    record.name = new
    records.save(directory, record)
