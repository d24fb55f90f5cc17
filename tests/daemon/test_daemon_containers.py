"""Containers through the real docker CLI against the daemon: run (with a real
pseudo-terminal for -i -t), attach, start -ai and detach, exec, logs, wait,
stop/kill/rm, cp, export, rename, diff, commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.daemon.support import (
    Daemon,
    have_docker_cli,
    have_runtime,
    import_base_images,
    run_on_pty,
)

pytestmark = [
    pytest.mark.skipif(not have_docker_cli(), reason="needs the docker CLI"),
    pytest.mark.skipif(not have_runtime(), reason="needs root and an OCI runtime"),
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path, debian_tar: Path):
    d = Daemon(tmp_path_factory.mktemp("containers") / "d").start()
    import_base_images(d, busybox_tar, debian_tar)
    yield d
    for line in d.docker("ps", "-aq", check=False).stdout.split():
        d.docker("rm", "-f", line, check=False)
    d.stop()
    with open("/proc/mounts", encoding="utf-8") as mounts:
        assert [m for m in mounts if str(d.root) in m] == []


def test_run_output_streams_and_exit_code(daemon: Daemon) -> None:
    result = daemon.docker(
        "run",
        "--name",
        "streams",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    ps = daemon.docker("ps", "-a", "--filter", "name=streams").stdout.splitlines()
    assert ps[0].split()[:3] == ["CONTAINER", "ID", "IMAGE"]
    assert "Exited (3)" in ps[1] and ps[1].endswith("streams")
    logs = daemon.docker("logs", "streams")
    assert (logs.stdout, logs.stderr) == ("out\n", "err\n")
    assert daemon.docker("wait", "streams").stdout == "3\n"


def test_run_rm_and_missing_command(daemon: Daemon) -> None:
    result = daemon.docker(
        "run", "--rm", "--name", "gone", "busybox", "sh", "-c", "exit 4", check=False
    )
    assert result.returncode == 4
    assert "gone" not in daemon.docker("ps", "-a").stdout
    result = daemon.docker("run", "--rm", "busybox", "nosuchcommand", check=False)
    assert result.returncode == 127, result
    result = daemon.docker("run", "--pull", "never", "nosuchimage", check=False)
    assert result.returncode == 125
    assert "No such image: nosuchimage:latest" in result.stderr


def test_stdin_piped_into_run(daemon: Daemon) -> None:
    result = daemon.docker(
        "run",
        "-i",
        "--name",
        "pipe_test",
        "debian:bookworm",
        stdin=b"echo first_test! >> first; cat first\n",
    )
    assert result.stdout == "first_test!\n"
    assert daemon.docker("diff", "pipe_test").stdout == "A /first\n"
    big = os.urandom(3 << 20)
    result = subprocess.run(
        ["docker", "run", "-i", "--rm", "busybox", "md5sum"],
        input=big,
        capture_output=True,
        env=daemon.env(),
        timeout=60,
    )
    import hashlib

    assert result.stdout.split()[0].decode() == hashlib.md5(big).hexdigest()


def test_name_conflict_text(daemon: Daemon) -> None:
    daemon.docker("create", "--name", "taken", "busybox", "true")
    result = daemon.docker("run", "--name", "taken", "busybox", "true", check=False)
    assert result.returncode == 125
    assert 'Conflict. The container name "/taken" is already in use by container' in result.stderr
    daemon.docker("rm", "taken")


def test_interactive_session_on_a_pty(daemon: Daemon) -> None:
    """The tutorial's `docker run -i -t ... bash`, then start -ai, ^P^Q, attach, exit 7."""
    env = daemon.env()
    output, code = run_on_pty(
        ["docker", "run", "-i", "-t", "--name", "it_test", "debian:bookworm"],
        [
            ("# ", b"echo first_test! >> first\r"),
            ("# ", b"cat first; tty; echo $0\r"),
            (0.3, b"exit\r"),
        ],
        env,
    )
    text = output.decode(errors="replace")
    assert code == 0, text
    assert "first_test!\r\n/dev/pts/0\r\nbash\r\n" in text
    output, code = run_on_pty(
        ["docker", "start", "-ai", "it_test"],
        [("# ", b"ls -l first\r"), ("root root 12", b"\x10\x11")],
        env,
    )
    assert code == 0 and b"-rw-r--r-- 1 root root 12" in output, output
    status = daemon.docker("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert "it_test Up" in status
    output, code = run_on_pty(["docker", "attach", "it_test"], [(1.0, b"exit 7\r")], env)
    assert code == 7, output
    diff = daemon.docker("diff", "it_test").stdout.splitlines()
    assert sorted(diff) == ["A /first", "A /root/.bash_history", "C /root"]
    commit = daemon.docker(
        "commit", "-a", "yceffort-test", "-m", "my first commit", "it_test", "commit_test:it"
    )
    assert commit.stdout.startswith("sha256:")


def test_tty_size_and_resize(daemon: Daemon) -> None:
    output, code = run_on_pty(
        ["docker", "run", "-it", "--rm", "busybox", "stty", "size"],
        [],
        daemon.env(),
        size=(33, 101),
    )
    assert code == 0 and b"33 101" in output, output


def test_attach_to_detached_container_exit_code(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "att", "busybox", "sh", "-c", "sleep 1; echo late; exit 7")
    result = daemon.docker("attach", "att", check=False)
    assert result.returncode == 7 and result.stdout == "late\n"


def test_exec(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "execme", "busybox", "sleep", "600")
    result = daemon.docker(
        "exec", "execme", "sh", "-c", "echo out; echo err >&2; exit 5", check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (5, "out\n", "err\n")
    assert daemon.docker("exec", "-i", "execme", "cat", stdin=b"hello\n").stdout == "hello\n"
    daemon.docker("exec", "-d", "execme", "touch", "/detached")
    for _ in range(50):
        if daemon.docker("exec", "execme", "ls", "/detached", check=False).returncode == 0:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("detached exec did not run")
    # API 1.41's CLI resizes an exec's terminal after starting it, so the shell may
    # come up before the resize lands: wait (5 s at most) for the size, then print it
    wait_for_size = b'for i in $(seq 50); do [ "$(stty size)" = "40 120" ] && break; sleep 0.1; done'
    output, code = run_on_pty(
        ["docker", "exec", "-it", "execme", "sh"],
        [("# ", wait_for_size + b"; tty; stty size\r"), ("# ", b"exit 3\r")],
        daemon.env(),
        size=(40, 120),
    )
    assert code == 3 and b"/dev/pts/" in output and b"\r\n40 120\r\n" in output, output
    result = daemon.docker("exec", "nosuchcontainer", "true", check=False)
    assert "No such container: nosuchcontainer" in result.stderr
    daemon.docker("rm", "-f", "execme")


def test_stop_kill_restart_rename_rm(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "life", "busybox", "sleep", "600")
    assert daemon.docker("stop", "-t", "1", "life").stdout == "life\n"
    state = json.loads(daemon.docker("inspect", "life").stdout)[0]["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 137
    daemon.docker("start", "life")
    assert daemon.docker("kill", "life").stdout == "life\n"
    assert daemon.docker("wait", "life").stdout == "137\n"
    result = daemon.docker("kill", "life", check=False)
    assert result.returncode == 1 and "is not running" in result.stderr
    daemon.docker("restart", "-t", "1", "life")
    assert "life Up" in daemon.docker("ps", "--format", "{{.Names}} {{.Status}}").stdout
    daemon.docker("rename", "life", "life2")
    result = daemon.docker("rm", "life2", check=False)
    assert result.returncode == 1 and "You cannot remove a running container" in result.stderr
    assert daemon.docker("rm", "-f", "life2").stdout == "life2\n"
    result = daemon.docker("rm", "life2", check=False)
    assert result.stderr == "Error response from daemon: No such container: life2\n"


def test_logs_follow_and_tail(daemon: Daemon) -> None:
    daemon.docker(
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done; echo bye >&2",
    )
    result = daemon.docker("logs", "-f", "talker")
    assert result.stdout == "".join(f"line {i}\n" for i in range(1, 6)) and result.stderr == "bye\n"
    tail = daemon.docker("logs", "--tail", "2", "talker")  # the last 2 lines of both streams
    assert (tail.stdout, tail.stderr) == ("line 5\n", "bye\n")
    stamped = daemon.docker("logs", "-t", "talker").stdout.splitlines()[0]
    assert stamped.endswith("Z line 1")


def test_cp_both_ways(daemon: Daemon, tmp_path: Path) -> None:
    daemon.docker(
        "run",
        "--name",
        "cpsrc",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /data/sub && echo hi > /data/sub/f && ln -s /data/sub/f /data/link",
    )
    daemon.docker("cp", "cpsrc:/data", str(tmp_path / "out"))
    assert (tmp_path / "out/sub/f").read_text() == "hi\n"
    assert os.readlink(tmp_path / "out/link") == "/data/sub/f"
    daemon.docker("cp", "-L", "cpsrc:/data/link", str(tmp_path / "followed"))
    assert (tmp_path / "followed").read_text() == "hi\n"
    (tmp_path / "host.txt").write_text("from host\n")
    daemon.docker("cp", str(tmp_path / "host.txt"), "cpsrc:/data/sub/")
    daemon.docker("cp", str(tmp_path / "host.txt"), "cpsrc:/renamed.txt")
    result = daemon.docker("start", "-a", "cpsrc", check=False)
    diff = daemon.docker("diff", "cpsrc").stdout.splitlines()
    assert "A /renamed.txt" in diff and "A /data/sub/host.txt" in diff, (diff, result)
    result = daemon.docker("cp", "cpsrc:/nonexistent", str(tmp_path / "x"), check=False)
    assert "Could not find the file /nonexistent in container cpsrc" in result.stderr


def test_export_changes_commit(daemon: Daemon, tmp_path: Path) -> None:
    daemon.docker("run", "--name", "exp", "busybox", "sh", "-c", "echo x > /marker; rm /etc/group")
    daemon.docker("export", "-o", str(tmp_path / "exp.tar"), "exp")
    with tarfile.open(tmp_path / "exp.tar") as tar:
        names = tar.getnames()
    assert "marker" in names and "bin/busybox" in names and "etc/group" not in names
    changes = json.loads(daemon.request("GET", "/containers/exp/changes")[2])
    assert {"Path": "/marker", "Kind": 1} in changes and {
        "Path": "/etc/group",
        "Kind": 2,
    } in changes
    image_id = daemon.docker(
        "commit", "-c", 'CMD ["cat", "/marker"]', "exp", "exp:img"
    ).stdout.strip()
    assert daemon.docker("run", "--rm", "exp:img").stdout == "x\n"
    assert daemon.docker("inspect", "-f", "{{.Id}}", "exp:img").stdout.strip() == image_id


def test_ps_filters_and_formats(daemon: Daemon) -> None:
    daemon.docker("create", "--name", "filtered", "--label", "team=a", "busybox", "true")
    names = daemon.docker("ps", "-a", "--filter", "label=team=a", "--format", "{{.Names}}").stdout
    assert names == "filtered\n"
    names = daemon.docker("ps", "-a", "--filter", "status=created", "--format", "{{.Names}}").stdout
    assert "filtered" in names.split()
    result = daemon.docker("ps", "--filter", "bogus=1", check=False)
    assert result.returncode != 0 and "invalid filter 'bogus'" in result.stderr
    assert daemon.docker("ps", "-aq", "--no-trunc", "--filter", "name=^filtered$").stdout.strip()
    daemon.docker("rm", "filtered")


def test_container_prune(daemon: Daemon) -> None:
    daemon.docker("create", "--name", "prunable", "busybox", "true")
    result = daemon.docker("container", "prune", "-f")
    assert "Deleted Containers:" in result.stdout and "Total reclaimed space:" in result.stdout
    assert "prunable" not in daemon.docker("ps", "-a").stdout


def test_concurrent_starts_run_one_container(daemon: Daemon) -> None:
    import concurrent.futures

    cid = daemon.docker("create", "busybox", "sleep", "30").stdout.strip()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(
            pool.map(lambda _: daemon.request("POST", f"/containers/{cid}/start")[0], range(4))
        )
    assert sorted(statuses) == [204, 304, 304, 304]
    daemon.docker("rm", "-f", cid)


def test_pause_and_unpause(daemon: Daemon) -> None:
    daemon.docker("run", "-d", "--name", "frozen", "busybox", "sleep", "600")
    assert daemon.docker("pause", "frozen").stdout == "frozen\n"
    status = daemon.docker("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert "frozen Up" in status and "(Paused)" in status
    assert json.loads(daemon.docker("inspect", "frozen").stdout)[0]["State"]["Paused"] is True
    assert daemon.docker("unpause", "frozen").stdout == "frozen\n"
    assert "(Paused)" not in daemon.docker("ps", "--format", "{{.Status}}").stdout
    daemon.docker("rm", "-f", "frozen")


def test_sizes_and_before_since_are_the_clis(daemon: Daemon) -> None:
    """The daemon's container sizes and before/since filters are engine.containers', the
    same numbers and the same selection the dockyard CLI gives on the same store."""
    script = "head -c 3000 /bin/busybox > /a && ln /a /b && echo hi > /c"
    daemon.docker("run", "--name", "sized1", "busybox", "sh", "-c", script)
    daemon.docker("create", "--name", "sized2", "busybox", "true")
    cli = subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "--root", str(daemon.root),
         "container", "inspect", "-s", "sized1"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    expected = json.loads(cli.stdout)[0]
    assert expected["SizeRw"] == 3003  # the hard link counted once, as overlay2's DiffSize
    inspected = daemon.json("GET", "/containers/sized1/json?size=1")
    assert (inspected["SizeRw"], inspected["SizeRootFs"]) == (
        expected["SizeRw"],
        expected["SizeRootFs"],
    )
    listed = {c["Names"][0]: c for c in daemon.json("GET", "/containers/json?all=1&size=1")}
    assert listed["/sized1"]["SizeRw"] == expected["SizeRw"]
    before = daemon.docker("ps", "-a", "--filter", "before=sized2", "--format", "{{.Names}}")
    assert "sized1" in before.stdout.split() and "sized2" not in before.stdout.split()
    since = daemon.docker("ps", "-a", "--filter", "since=sized1", "--format", "{{.Names}}")
    assert since.stdout.split() == ["sized2"]
    daemon.docker("rm", "sized1", "sized2")
