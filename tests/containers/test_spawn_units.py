"""Unit tests of the monitor's starter (dockyard.containers.spawn)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from dockyard.containers.spawn import wait_ready_warm


def test_waiting_for_the_monitor_keeps_cgroup_membership(tmp_path: Path) -> None:
    """The starter's wait for "started" rewrites its own cgroup.procs (to keep the
    kernel's cgroup-move lock warm for the runtime): it changes no membership, returns
    once the descriptor is readable, and writes nothing to it."""
    before = Path("/proc/self/cgroup").read_text()
    ready_r, ready_w = os.pipe()
    try:
        timer = threading.Timer(0.05, lambda: os.write(ready_w, b"ready\n"))
        timer.start()
        wait_ready_warm(ready_r)
        timer.join()
        assert os.read(ready_r, 100) == b"ready\n"
        os.write(ready_w, b"again\n")
        wait_ready_warm(ready_r)  # already readable: returns at once
        assert os.read(ready_r, 100) == b"again\n"
    finally:
        os.close(ready_r)
        os.close(ready_w)
    assert Path("/proc/self/cgroup").read_text() == before
