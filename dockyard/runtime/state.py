"""A container's run state, kept in <container dir>/state.json (atomically replaced).

The monitor process writes it when the container starts and when it exits;
any dockyard process reads it. `read_state` also repairs a stale record: a
state that says running whose monitor is gone becomes exited (code 255).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from dockyard.datarecord import asdict, dataclass, fields
from dockyard.timeutil import ZERO_TIME, now_rfc3339

STATE_FILE = "state.json"


@dataclass
class ContainerState:
    status: str = "created"  # created | running | paused | restarting | exited | dead
    pid: int = 0
    exit_code: int = 0
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    error: str = ""
    monitor_pid: int = 0
    oom_killed: bool = False
    restart_count: int = 0

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused")

    @property
    def paused(self) -> bool:
        return self.status == "paused"


def write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # json.dumps, not json.dump: dump streams through the pure-Python encoder (~1 ms for
    # a runtime spec), dumps uses the C one.
    text = json.dumps(data)
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def write_state(container_dir: Path, state: ContainerState) -> None:
    write_json_atomic(container_dir / STATE_FILE, asdict(state))


def _load(container_dir: Path) -> ContainerState:
    try:
        with open(container_dir / STATE_FILE, encoding="utf-8") as src:
            data = json.load(src)
    except (OSError, ValueError):
        return ContainerState()
    known = {f.name for f in fields(ContainerState)}
    return ContainerState(**{k: v for k, v in data.items() if k in known})


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_state(container_dir: Path) -> ContainerState:
    """The container's state; a running state whose monitor died is reported as exited."""
    state = _load(container_dir)
    if state.running and not process_alive(state.monitor_pid):
        # The monitor may have just finished writing: read once more before repairing.
        time.sleep(0.01)
        state = _load(container_dir)
        if state.running and not process_alive(state.monitor_pid):
            state.status = "exited"
            state.exit_code = 255 if state.exit_code == 0 else state.exit_code
            state.pid = 0
            state.finished_at = now_rfc3339()
            state.error = state.error or "container monitor exited unexpectedly"
            _unmount_stale(container_dir)
            try:
                write_state(container_dir, state)
            except OSError:
                pass
    return state


def _unmount_stale(container_dir: Path) -> None:
    """The monitor died without cleaning up (SIGKILL, host crash): unmount what it left."""
    try:
        from dockyard.runtime import rootfs

        rootfs.unmount(container_dir / "merged")
    except OSError:
        pass
    try:  # the runtime's own record and cgroups of the container
        from dockyard.runtime.ocirt import get_runtime

        with open(container_dir / "hostconfig.json", encoding="utf-8") as src:
            runtime = json.load(src).get("Runtime") or None
        get_runtime(runtime).delete(container_dir.name)
    except Exception:  # noqa: BLE001 - best effort
        pass


def is_running(container_dir: Path) -> bool:
    return read_state(container_dir).running
