"""Containers through the real CLI and real runtimes: exit codes of many short containers,
pause/unpause and what stop/kill/rm/rmi/commit do with a paused container."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dockyard.runtime.ocirt import STATE_ROOT
from tests.containers.support import (
    NEEDS_RUNTIME,
    busybox_store,
    dockyard_mounts,
    dy,
    run_cli,
)

pytestmark = NEEDS_RUNTIME

RUNTIMES = [name for name in ("crun", "runc") if shutil.which(name)]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Iterator[Path]:
    yield from busybox_store(tmp_path_factory, busybox_tar, "lifecycle")


def _state(root: Path, name: str) -> dict:
    return json.loads(dy(root, "inspect", name).stdout)[0]["State"]


# ---------------------------------------------------------------- exit codes under load


def test_many_short_foreground_containers_report_their_exit_codes(root: Path) -> None:
    """Regression: `run ... true` once returned 255 with nothing on stderr under load.

    crun's `run --detach` returns once its double-forked helper reports the container
    started; the init stays that helper's child until the helper exits. An init that
    exits in between is reparented to the monitor (a subreaper) only afterwards, and the
    monitor's waitpid said ECHILD: it fell into its failure path and recorded 255. Many
    short containers side by side (their own load) hit that window now and then."""
    jobs = [(index, RUNTIMES[index % len(RUNTIMES)], index % 7) for index in range(60)]

    def run(job: tuple[int, str, int]):  # type: ignore[no-untyped-def]
        index, runtime, code = job
        name = f"short{index}"
        command = ["true"] if code == 0 else ["sh", "-c", f"exit {code}"]
        result = run_cli(root, "run", "--runtime", runtime, "--name", name, "busybox", *command)
        return name, code, result

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(run, jobs))
    wrong = [
        (name, code, result.returncode, result.stderr)
        for name, code, result in results
        if result.returncode != code or result.stderr
    ]
    assert wrong == []
    for name, code, _ in results:
        state = _state(root, name)
        assert (state["Status"], state["ExitCode"], state["Error"]) == ("exited", code, "")
    assert list((root / "containers").glob("*/monitor.err")) == []
    # The monitor starts the runtime's delete and overlaps it with its own clean-up, but
    # waits for it before it records the exit: no runtime state is left behind.
    ids = dy(root, "ps", "-aq", "--no-trunc").stdout.decode().split()
    assert len(ids) >= len(results)
    left = [cid for cid in ids for name in RUNTIMES if (STATE_ROOT / name / cid).exists()]
    assert left == []
    dy(root, "rm", *[name for name, _, _ in results])
    assert dockyard_mounts(root) == []


# ---------------------------------------------------------------- pause / unpause


def _counter(root: Path, name: str) -> int:
    out = dy(root, "exec", name, "cat", "/tmp/count").stdout.decode().strip()
    return int(out or 0)


def _start_counter(root: Path, name: str, runtime: str, *extra: str) -> str:
    script = (
        "trap 'exit 3' TERM; i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done"
    )
    cid = dy(
        root,
        "run",
        "-d",
        "--runtime",
        runtime,
        "--name",
        name,
        *extra,
        "busybox",
        "sh",
        "-c",
        script,
    )
    return cid.stdout.decode().strip()


def _wait_counting(root: Path, name: str) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        value = _counter(root, name)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("the container never started counting")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pause_unpause(root: Path, runtime: str) -> None:
    cid = _start_counter(root, "pz", runtime)
    _wait_counting(root, "pz")
    assert dy(root, "pause", "pz").stdout == b"pz\n"
    state = _state(root, "pz")
    assert (state["Status"], state["Running"], state["Paused"]) == ("paused", True, True)
    ps = dy(root, "ps", "--filter", "name=^pz$").stdout.decode().splitlines()
    assert len(ps) == 2 and "(Paused)" in ps[1] and " Up " in f" {ps[1]}"
    assert dy(root, "ps", "-q", "--filter", "status=paused").stdout.decode().split() == [cid[:12]]
    assert (
        dy(root, "ps", "--format", "{{.State}} {{.Status}}", "--filter", "name=^pz$")
        .stdout.decode()
        .startswith("paused Up ")
    )

    # frozen: the counter (read from the upper directory) does not move
    upper = root / "containers" / cid / "upper" / "tmp" / "count"
    frozen = upper.read_text()
    time.sleep(0.5)
    assert upper.read_text() == frozen

    # what cannot be done to a paused container, in Docker's words
    err = dy(root, "pause", "pz", code=1).stderr.decode()
    assert err == f"Error response from daemon: Container {cid} is already paused\n"
    err = dy(root, "exec", "pz", "true", code=1).stderr.decode()
    assert (
        err
        == "Error response from daemon: Container pz is paused, unpause the container before exec\n"
    )
    err = dy(root, "attach", "pz", code=1).stderr.decode()
    assert err == "You cannot attach to a paused container, unpause it first\n"
    err = dy(root, "start", "pz", code=1).stderr.decode()
    assert (
        err == "Error response from daemon: cannot start a paused container, try unpause instead\n"
    )
    err = dy(root, "rm", "pz", code=1).stderr.decode()
    assert err == (
        f"Error response from daemon: You cannot remove a paused container {cid}. "
        "Unpause and then stop the container before attempting removal or force remove\n"
    )

    # commit leaves a paused container paused
    dy(root, "commit", "pz", "paused:snap")
    assert _state(root, "pz")["Status"] == "paused"
    dy(root, "rmi", "paused:snap")

    assert dy(root, "unpause", "pz").stdout == b"pz\n"
    state = _state(root, "pz")
    assert (state["Status"], state["Running"], state["Paused"]) == ("running", True, False)
    deadline = time.monotonic() + 10
    while upper.read_text() == frozen:
        assert time.monotonic() < deadline, "the counter did not resume"
        time.sleep(0.1)
    err = dy(root, "unpause", "pz", code=1).stderr.decode()
    assert err == f"Error response from daemon: Container {cid} is not paused\n"
    dy(root, "rm", "-f", "pz")


def test_pause_stopped_and_unknown(root: Path) -> None:
    cid = dy(root, "create", "--name", "pzc", "busybox", "true").stdout.decode().strip()
    err = dy(root, "pause", "pzc", "nosuch", code=1).stderr.decode()
    assert err == (
        f"Error response from daemon: Container {cid} is not running\n"
        "Error response from daemon: No such container: nosuch\n"
    )
    err = dy(root, "unpause", "pzc", code=1).stderr.decode()
    assert err == f"Error response from daemon: Container {cid} is not running\n"
    dy(root, "rm", "pzc")


@pytest.mark.parametrize("verb", ["stop", "kill", "rm"])
def test_stop_kill_rm_a_paused_container(root: Path, verb: str) -> None:
    """As Docker: the signal is sent, then the container is thawed so that it is delivered."""
    name = f"pz{verb}"
    cid = _start_counter(root, name, RUNTIMES[0])
    _wait_counting(root, name)
    dy(root, "pause", name)
    args = {"stop": ["stop", "-t", "60"], "kill": ["kill"], "rm": ["rm", "-f"]}[verb]
    assert dy(root, *args, name).stdout.decode() == f"{name}\n"
    if verb == "rm":
        assert not (root / "containers" / cid).exists()
        return
    state = _state(root, name)
    assert state["Status"] == "exited" and not state["Paused"]
    # stop: the shell's TERM trap ran (it was thawed), long before the 60 s SIGKILL
    assert state["ExitCode"] == (3 if verb == "stop" else 137)
    dy(root, "rm", name)


def test_rmi_refuses_the_image_of_a_paused_container(root: Path) -> None:
    dy(root, "tag", "busybox", "pauseimg:latest")
    cid = _start_counter(root, "pzimg", RUNTIMES[0])
    dy(root, "pause", "pzimg")
    image_id = json.loads(dy(root, "inspect", "pauseimg").stdout)[0]["Id"]
    err = dy(root, "rmi", "-f", image_id, code=1).stderr.decode()
    assert f"image is being used by running container {cid[:12]}" in err
    dy(root, "rm", "-f", "pzimg")
    dy(root, "rmi", "pauseimg")


def test_a_client_that_speaks_after_the_container_is_gone_gets_output_and_code(
    root: Path,
) -> None:
    """Regression: under load `run --rm ... sh -c 'echo; exit 1'` printed nothing and exited 0.

    The monitor finished (output, exit status, --rm, close) before the CLI sent its hello;
    the send failed with EPIPE and the CLI fell back to the state of a removed container.
    What the monitor sent is still queued on the client's socket and must be read."""
    from dockyard.containers import lifecycle
    from dockyard.containers.create import CreateOptions, container_dir, create_container
    from dockyard.runtime import attach
    from dockyard.store import Store

    store = Store.open(root)
    try:
        options = CreateOptions(
            image="busybox",
            command=["sh", "-c", "echo late; echo err >&2; exit 3"],
            attach=True,
            auto_remove=True,
        )
        record = create_container(store, options)
        directory = container_dir(store, record.id)
        store.close()  # the monitor is forked from here: no SQLite state for it to inherit
        started = lifecycle.start(store, record, attach_streams=True)
        assert started is not None and started.client is not None
        deadline = time.monotonic() + 60
        while directory.exists():  # the monitor has finished, removed it and hung up
            assert time.monotonic() < deadline, sorted(os.listdir(directory))
            time.sleep(0.02)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            code = attach.relay(started.client, stdin=False, stdout_fd=out_w, stderr_fd=err_w)
        finally:
            started.client.close()
            os.close(out_w)
            os.close(err_w)
        with os.fdopen(out_r, "rb") as out, os.fdopen(err_r, "rb") as err:
            assert (code, out.read(), err.read()) == (3, b"late\n", b"err\n")
    finally:
        store.close()


# ---------------------------------------------------------------- --init


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_init_runs_the_command_under_tini(root: Path, runtime: str) -> None:
    from dockyard.runtime.spec import init_binary

    if init_binary() is None:
        pytest.skip("no static init (Debian's tini package) installed")
    script = (
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$; "
        "(: >> /sbin/docker-init) 2>/dev/null && echo writable || echo read-only; exit 4"
    )
    result = dy(
        root,
        "run",
        "--runtime",
        runtime,
        "--name",
        f"init-{runtime}",
        "--init",
        "busybox",
        "sh",
        "-c",
        script,
        code=4,
    )
    lines = result.stdout.decode().splitlines()
    assert lines[0] == f"/sbin/docker-init -- sh -c {script} "
    assert lines[1] != "1"  # the shell is not PID 1: tini is
    assert lines[2] == "read-only"
    inspect = json.loads(dy(root, "inspect", f"init-{runtime}").stdout)[0]
    assert inspect["HostConfig"]["Init"] is True
    assert inspect["Path"] == "sh" and inspect["Args"][0] == "-c"
    # the mount point is in the init layer: neither diff nor commit sees it
    assert dy(root, "diff", f"init-{runtime}").stdout == b""
    # signals reach the command through tini; stop ends it at once
    dy(
        root,
        "run",
        "-d",
        "--runtime",
        runtime,
        "--name",
        f"initd-{runtime}",
        "--init",
        "busybox",
        "sleep",
        "60",
    )
    started = time.monotonic()
    dy(root, "stop", "-t", "30", f"initd-{runtime}")
    assert time.monotonic() - started < 25
    assert _state(root, f"initd-{runtime}")["ExitCode"] == 143
    dy(root, "rm", f"init-{runtime}", f"initd-{runtime}")


def test_init_with_a_merged_usr_image(root: Path, debian_tar: Path) -> None:
    """/sbin is a symlink to usr/sbin in Debian bookworm: the mount point goes to usr/sbin and
    the image's /sbin stays a symlink."""
    from dockyard.devtools.baseimages import BASE_IMAGES
    from dockyard.runtime.spec import init_binary

    if init_binary() is None:
        pytest.skip("no static init (Debian's tini package) installed")
    changes = [arg for change in BASE_IMAGES["debian"]["changes"] for arg in ("--change", change)]
    dy(root, "import", *changes, str(debian_tar), "debian:bookworm")
    script = "readlink /sbin; test -x /sbin/docker-init && ls /sbin/ | grep -c -x -e docker-init -e ldconfig"
    result = dy(root, "run", "--name", "initdeb", "--init", "debian:bookworm", "bash", "-c", script)
    assert result.stdout == b"usr/sbin\n2\n"
    assert dy(root, "diff", "initdeb").stdout == b""
    dy(root, "rm", "initdeb")
    dy(root, "rmi", "debian:bookworm")


# ---------------------------------------------------------------- seccomp


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_default_seccomp_profile_and_unconfined(root: Path, runtime: str) -> None:
    # unshare(CLONE_NEWUSER) needs no capability: only the seccomp filter refuses it
    script = "unshare -U true && echo allowed || echo refused"
    result = dy(root, "run", "--rm", "--runtime", runtime, "busybox", "sh", "-c", script)
    assert result.stdout == b"refused\n"
    assert b"Operation not permitted" in result.stderr
    result = dy(
        root,
        "run",
        "--rm",
        "--runtime",
        runtime,
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "sh",
        "-c",
        script,
    )
    assert result.stdout == b"allowed\n"
    # exec'd processes are filtered as well
    dy(root, "run", "-d", "--runtime", runtime, "--name", f"sc-{runtime}", "busybox", "sleep", "60")
    result = dy(root, "exec", f"sc-{runtime}", "sh", "-c", script)
    assert result.stdout == b"refused\n"
    dy(root, "rm", "-f", f"sc-{runtime}")


def test_seccomp_profile_file_and_bad_options(root: Path, tmp_path: Path) -> None:
    # a profile in Docker's format that refuses only mkdir (and mkdirat)
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    script = "mkdir /x && echo made || echo refused; unshare -U true && echo unshared"
    result = dy(
        root,
        "run",
        "--name",
        "scfile",
        "--security-opt",
        f"seccomp={path}",
        "busybox",
        "sh",
        "-c",
        script,
    )
    assert result.stdout == b"refused\nunshared\n"
    options = json.loads(dy(root, "inspect", "scfile").stdout)[0]["HostConfig"]["SecurityOpt"]
    assert len(options) == 1 and json.loads(options[0].split("=", 1)[1]) == profile
    dy(root, "rm", "scfile")
    result = dy(root, "run", "--rm", "--security-opt", "bogus", "busybox", "true", code=125)
    assert b'invalid --security-opt 1: "bogus"' in result.stderr
    result = dy(
        root,
        "run",
        "--rm",
        "--security-opt",
        f"seccomp={tmp_path}/none.json",
        "busybox",
        "true",
        code=125,
    )
    assert b"opening seccomp profile" in result.stderr


# ---------------------------------------------------------------- ps -s, inspect -s


def test_ps_size_counts_the_upper_directory(root: Path) -> None:
    script = (
        "head -c 1500 /dev/zero > /a && ln /a /b && ln -s /bin/busybox /c && mkdir /d && rm /bin/ls"
    )
    dy(root, "run", "--name", "sized", "busybox", "sh", "-c", script)
    dy(root, "run", "--name", "unsized", "busybox", "true")
    image_size = json.loads(dy(root, "inspect", "busybox").stdout)[0]["Size"]
    # 1500 bytes once (a hard link counts once) + a 12-byte symlink; directories and
    # the whiteout of /bin/ls count nothing
    inspect = json.loads(dy(root, "container", "inspect", "-s", "sized").stdout)[0]
    assert (inspect["SizeRw"], inspect["SizeRootFs"]) == (1512, 1512 + image_size)
    keys = list(inspect)
    assert keys.index("GraphDriver") + 1 == keys.index("SizeRw")
    assert "SizeRw" not in json.loads(dy(root, "container", "inspect", "sized").stdout)[0]

    from dockyard.humanize import human_size

    lines = dy(root, "ps", "-a", "-s", "--filter", "name=^sized$").stdout.decode().splitlines()
    assert lines[0].split()[-1] == "SIZE" and lines[0].split()[-2] == "NAMES"
    assert lines[1].endswith(f"sized     1.51kB (virtual {human_size(1512 + image_size)})")
    out = dy(root, "ps", "-a", "--format", "{{.Names}}: {{.Size}}", "--filter", "name=sized")
    assert out.stdout.decode().splitlines() == [
        f"unsized: 0B (virtual {human_size(image_size)})",
        f"sized: 1.51kB (virtual {human_size(1512 + image_size)})",
    ]
    assert "SIZE" not in dy(root, "ps", "-a").stdout.decode().splitlines()[0]
    dy(root, "rm", "sized", "unsized")
