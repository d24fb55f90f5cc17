"""Containers through the real CLI, with real crun/runc and overlay mounts."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.support import (
    NEEDS_RUNTIME,
    busybox_store,
    dockyard_mounts,
    dy,
)

pytestmark = NEEDS_RUNTIME


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Iterator[Path]:
    yield from busybox_store(tmp_path_factory, busybox_tar, "containers")


def test_run_writes_file_diff_shows_it(root: Path) -> None:
    result = dy(root, "run", "--name", "first", "busybox", "sh", "-c", "echo first_test! >> /first")
    assert result.stdout == b"" and result.stderr == b""
    assert dy(root, "container", "diff", "first").stdout == b"A /first\n"
    assert dy(root, "diff", "first").stdout == b"A /first\n"
    ps = dy(root, "ps", "-a", "--filter", "name=^first$").stdout.decode().splitlines()
    assert ps[0].split() == [
        "CONTAINER",
        "ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    assert "busybox" in ps[1] and '"sh -c \'echo first_t…"' in ps[1]
    assert "Exited (0)" in ps[1] and ps[1].endswith("first")
    assert dockyard_mounts(root) == []


def test_exit_codes_and_output_streams(root: Path) -> None:
    result = dy(
        root, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", code=3
    )
    assert result.stdout == b"out\n" and result.stderr == b"err\n"
    missing = dy(root, "run", "--rm", "busybox", "nosuchcommand", code=None)
    assert missing.returncode in (126, 127)
    assert dy(root, "run", "--rm", "nosuchimage", code=125).stderr.startswith(
        b"dockyard: No such image"
    )


def test_rm_flag_removes_container(root: Path) -> None:
    dy(root, "run", "--rm", "--name", "gone", "busybox", "true")
    assert b"gone" not in dy(root, "ps", "-a").stdout


def test_name_conflict(root: Path) -> None:
    dy(root, "create", "--name", "taken", "busybox", "true")
    result = dy(root, "run", "--name", "taken", "busybox", "true", code=125)
    assert b'Conflict. The container name "/taken" is already in use by container' in result.stderr
    dy(root, "rm", "taken")


def test_tty_without_terminal(root: Path) -> None:
    result = dy(root, "run", "-it", "--rm", "busybox", "true", code=1)
    assert result.stderr == b"the input device is not a TTY\n"


def test_interactive_stdin_pipe(root: Path) -> None:
    result = dy(
        root,
        "run",
        "-i",
        "--name",
        "pipe_test",
        "busybox",
        stdin=b"echo first_test! >> first; cat first\n",
    )
    assert result.stdout == b"first_test!\n"
    assert dy(root, "diff", "pipe_test").stdout.splitlines() == [b"A /first"]
    inspect = json.loads(dy(root, "container", "inspect", "pipe_test").stdout)[0]
    assert inspect["Config"]["OpenStdin"] and inspect["Config"]["StdinOnce"]
    assert inspect["Config"]["Cmd"] == ["sh"]
    assert inspect["State"]["Status"] == "exited" and inspect["Name"] == "/pipe_test"
    dy(root, "rm", "pipe_test")


def test_detached_logs_wait_stop_rm(root: Path) -> None:
    cid = (
        dy(
            root,
            "run",
            "-d",
            "--name",
            "bg",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; sleep 60",
        )
        .stdout.decode()
        .strip()
    )
    assert len(cid) == 64
    deadline = time.monotonic() + 10
    while b"out" not in dy(root, "logs", "bg").stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    logs = dy(root, "logs", "bg")
    assert logs.stdout == b"out\n" and logs.stderr == b"err\n"
    assert dy(root, "ps", "-q").stdout.decode().split() == [cid[:12]]
    assert "Up " in dy(root, "ps", "--format", "{{.Names}} {{.Status}}").stdout.decode()
    log_file = root / "containers" / cid / f"{cid}-json.log"
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(e["log"], e["stream"]) for e in lines] == [("out\n", "stdout"), ("err\n", "stderr")]
    assert dy(root, "rm", "bg", code=1).stderr.startswith(
        b"Error response from daemon: You cannot remove a running container"
    )
    assert dy(root, "stop", "-t", "1", "bg").stdout == b"bg\n"
    assert dy(root, "wait", "bg").stdout == b"137\n"
    assert (
        "Exited (137)" in dy(root, "ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout.decode()
    )
    assert dy(root, "rm", "bg").stdout == b"bg\n"
    assert dockyard_mounts(root) == []


def test_kill_wait_and_start_again(root: Path) -> None:
    dy(root, "run", "-d", "--name", "kk", "busybox", "sleep", "60")
    dy(root, "kill", "kk")
    assert dy(root, "wait", "kk").stdout == b"137\n"
    dy(root, "start", "kk")
    assert dy(root, "inspect", "--format", "{{.State.Status}}", "kk").stdout == b"running\n"
    dy(root, "rm", "-f", "kk")
    assert (
        dy(root, "kill", "nosuch", code=1).stderr
        == b"Error response from daemon: No such container: nosuch\n"
    )


def test_attach_returns_exit_code(root: Path) -> None:
    dy(root, "run", "-d", "--name", "att", "busybox", "sh", "-c", "sleep 3; exit 7")
    assert dy(root, "attach", "att", code=7).stdout == b""
    dy(root, "start", "-a", "att", code=7)
    dy(root, "rm", "att")


def test_exec(root: Path) -> None:
    dy(root, "run", "-d", "--name", "ex", "busybox", "sleep", "60")
    result = dy(
        root, "exec", "-e", "FOO=bar", "-w", "/tmp", "ex", "sh", "-c", "echo $FOO; pwd; hostname"
    )
    lines = result.stdout.decode().split()
    assert lines[:2] == ["bar", "/tmp"] and len(lines[2]) == 12
    assert dy(root, "exec", "ex", "sh", "-c", "exit 4", code=4)
    dy(root, "rm", "-f", "ex")


def test_user_env_workdir_hostname(root: Path) -> None:
    out = (
        dy(
            root,
            "run",
            "--rm",
            "-u",
            "nobody",
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "--hostname",
            "box",
            "busybox",
            "sh",
            "-c",
            "id -u; echo $A; pwd; hostname; cat /etc/hostname; test -f /.dockerenv && echo env",
        )
        .stdout.decode()
        .split()
    )
    assert out == ["65534", "1", "/tmp", "box", "box", "env"]
    assert dy(root, "run", "--rm", "-u", "nosuchuser", "busybox", "true", code=None).returncode != 0


def test_volume_and_read_only(root: Path, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("host\n")
    out = dy(
        root,
        "run",
        "--rm",
        "-v",
        f"{tmp_path}:/data",
        "busybox",
        "sh",
        "-c",
        "cat /data/in.txt; echo c > /data/out.txt",
    )
    assert out.stdout == b"host\n" and (tmp_path / "out.txt").read_text() == "c\n"
    dy(root, "run", "--rm", "-v", f"{tmp_path}:/data:ro", "busybox", "touch", "/data/x", code=1)
    dy(root, "run", "--rm", "--read-only", "busybox", "touch", "/x", code=1)


def test_network_none_and_host(root: Path) -> None:
    def interfaces(text: str) -> set[str]:
        return {line.split(":")[0].strip() for line in text.splitlines()[2:]}

    none = dy(root, "run", "--rm", "busybox", "cat", "/proc/net/dev").stdout.decode()
    assert interfaces(none) == {"lo"}
    host = dy(
        root, "run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev"
    ).stdout.decode()
    assert interfaces(host) == interfaces(Path("/proc/net/dev").read_text())


def test_rename_and_prune(root: Path) -> None:
    dy(root, "create", "--name", "old", "busybox", "true")
    dy(root, "rename", "old", "new")
    assert dy(root, "ps", "-a", "--filter", "name=new", "--format", "{{.Names}}").stdout == b"new\n"
    dy(root, "run", "-d", "--name", "alive", "busybox", "sleep", "60")
    out = dy(root, "container", "prune", "-f").stdout.decode()
    assert out.startswith("Deleted Containers:\n") and out.endswith("Total reclaimed space: 0B\n")
    assert dy(root, "ps", "-a", "--format", "{{.Names}}").stdout == b"alive\n"
    dy(root, "rm", "-f", "alive")


@pytest.mark.parametrize("runtime", ["crun", "runc"])
def test_each_runtime(root: Path, runtime: str) -> None:
    if not shutil.which(runtime):
        pytest.skip(f"{runtime} is not installed")
    out = dy(
        root,
        "run",
        "--rm",
        "--runtime",
        runtime,
        "-i",
        "busybox",
        "sh",
        "-c",
        "cat; hostname | wc -c; exit 5",
        stdin=b"in\n",
        code=5,
    )
    assert out.stdout == b"in\n13\n"
    cid = (
        dy(root, "run", "-d", "--runtime", runtime, "busybox", "sleep", "60")
        .stdout.decode()
        .strip()
    )
    assert json.loads(dy(root, "inspect", cid).stdout)[0]["HostConfig"]["Runtime"] == runtime
    dy(root, "commit", cid)  # pauses and resumes through the runtime
    assert dy(root, "inspect", "--format", "{{.State.Status}}", cid).stdout == b"running\n"
    dy(root, "rm", "-f", cid)


def test_logs_follow_tail_timestamps_and_restart(root: Path) -> None:
    import subprocess
    import sys

    dy(
        root,
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo line$i; sleep 0.3; done",
    )
    env = dict(os.environ, DOCKYARD_ROOT=str(root))
    follow = subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "logs", "-f", "talker"],
        env=env,
        capture_output=True,
        timeout=30,
    )
    assert follow.stdout == b"line1\nline2\nline3\n"
    assert dy(root, "logs", "--tail", "1", "talker").stdout == b"line3\n"
    stamped = dy(root, "logs", "-t", "--tail", "1", "talker").stdout.decode()
    assert stamped.endswith("Z line3\n") and stamped[4] == "-"
    dy(root, "restart", "-t", "1", "talker")
    assert dy(root, "wait", "talker").stdout == b"0\n"
    assert dy(root, "logs", "talker").stdout.count(b"line1") == 2
    dy(root, "rm", "talker")
