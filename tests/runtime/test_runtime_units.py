"""Unit tests of the runtime pieces: spec, users, secure join, json-file log, framing, state."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dockyard.runtime import jsonlog, stream
from dockyard.runtime.etcfiles import resolv_text
from dockyard.runtime.ocirt import Runtime, get_runtime
from dockyard.runtime.procenv import container_env
from dockyard.runtime.securejoin import secure_join
from dockyard.runtime.spec import Bind, ContainerSpec, ProcessSpec, build_spec
from dockyard.runtime.state import ContainerState, read_state, write_state
from dockyard.runtime.users import ExecUser, UserError, resolve_user


def test_spec_matches_docker_defaults() -> None:
    spec = build_spec(
        ContainerSpec(
            process=ProcessSpec(args=["sh"], env=["A=1"], terminal=True, console_size=(24, 80)),
            rootfs="/r",
            hostname="abc",
            hosts_path="/c/hosts",
            hostname_path="/c/hostname",
            resolv_path="/c/resolv.conf",
            binds=[Bind("/h", "/data", readonly=True)],
            cgroups_path="/dockyard/x",
        )
    )
    namespaces = {ns["type"] for ns in spec["linux"]["namespaces"]}
    assert namespaces == {"pid", "mount", "ipc", "uts", "network"}
    destinations = [m["destination"] for m in spec["mounts"]]
    for path in (
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
        "/data",
    ):
        assert path in destinations
    assert next(m for m in spec["mounts"] if m["destination"] == "/sys")["options"][-1] == "ro"
    assert "ro" in next(m for m in spec["mounts"] if m["destination"] == "/data")["options"]
    assert spec["process"]["noNewPrivileges"] is True
    assert spec["process"]["consoleSize"] == {"height": 24, "width": 80}
    assert len(spec["process"]["capabilities"]["bounding"]) == 14
    assert spec["hostname"] == "abc" and spec["root"] == {"path": "/r", "readonly": False}
    assert spec["process"]["rlimits"][0]["type"] == "RLIMIT_NOFILE"
    host = build_spec(
        ContainerSpec(
            process=ProcessSpec(args=["sh"], env=[]), rootfs="/r", hostname="h", network="host"
        )
    )
    assert "network" not in {ns["type"] for ns in host["linux"]["namespaces"]}


def test_env_order_and_defaults() -> None:
    env = container_env(["FOO=1", "PATH=/bin"], "host1", True, ExecUser(home="/root"))
    assert env == ["HOSTNAME=host1", "TERM=xterm", "FOO=1", "PATH=/bin", "HOME=/root"]
    env = container_env([], "h", False, ExecUser())
    assert env[0].startswith("PATH=/usr/local/sbin") and "HOME=/" in env


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\napp:x:1000:1000::/app:/bin/sh\n"
    )
    (tmp_path / "etc" / "group").write_text(
        "root:x:0:\nwheel:x:10:root,app\nstaff:x:50:app\napp:x:1000:\n"
    )
    return tmp_path


def test_resolve_user(rootfs: Path) -> None:
    root = resolve_user(str(rootfs), "")
    assert (root.uid, root.gid, root.home, root.additional_gids) == (0, 0, "/root", [0, 10])
    app = resolve_user(str(rootfs), "app")
    assert (app.uid, app.gid, app.home) == (1000, 1000, "/app") and app.additional_gids == [
        1000,
        10,
        50,
    ]
    assert (resolve_user(str(rootfs), "1234").uid, resolve_user(str(rootfs), "1234").gid) == (
        1234,
        0,
    )
    assert resolve_user(str(rootfs), "app:staff").gid == 50
    assert resolve_user(str(rootfs), "nobody:7").gid == 7
    with pytest.raises(UserError, match="unable to find user ghost"):
        resolve_user(str(rootfs), "ghost")
    with pytest.raises(UserError, match="unable to find group nogroup"):
        resolve_user(str(rootfs), "app:nogroup")


def test_secure_join_stays_inside(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    os.symlink("/", tmp_path / "a" / "up")
    os.symlink("../../../../etc", tmp_path / "dots")
    os.symlink("a/up/a", tmp_path / "loopish")
    assert secure_join(str(tmp_path), "/a/up/etc/passwd") == str(tmp_path / "etc" / "passwd")
    assert secure_join(str(tmp_path), "dots/shadow") == str(tmp_path / "etc" / "shadow")
    assert secure_join(str(tmp_path), "../../x") == str(tmp_path / "x")
    assert secure_join(str(tmp_path), "loopish") == str(tmp_path / "a")
    assert secure_join(str(tmp_path), "a/up", follow_last=False) == str(tmp_path / "a" / "up")


def test_json_log_format_and_tail(tmp_path: Path) -> None:
    path = tmp_path / "x-json.log"
    log = jsonlog.LogWriter(path)
    log.write("stdout", b"one\ntw")
    log.write("stderr", b"err\n")
    log.write("stdout", b"o\nthree")
    log.close()
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    assert list(first) == ["log", "stream", "time"] and first["log"] == "one\n"
    assert lines[0].startswith('{"log":"one\\n","stream":"stdout","time":"')
    entries = jsonlog.read_entries(path)
    assert [(e.stream, e.text) for e in entries] == [
        ("stdout", "one\n"),
        ("stderr", "err\n"),
        ("stdout", "two\n"),
        ("stdout", "three"),
    ]
    assert [e.text for e in jsonlog.read_entries(path, tail=2)] == ["two\n", "three"]
    assert jsonlog.read_entries(path, tail=0) == []
    # Go's RFC3339Nano, as Docker's json-file driver writes it: trailing zeros of the
    # fraction are dropped, so the length varies (one write in ten ends in a 0).
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z", entries[0].time)


def test_frames_roundtrip() -> None:
    reader = stream.FrameReader()
    data = stream.frame(stream.STDOUT, b"hello") + stream.control({"type": "exit", "code": 3})
    assert reader.feed(data[:5]) == []
    frames = reader.feed(data[5:])
    assert frames[0] == (stream.STDOUT, b"hello")
    assert json.loads(frames[1][1]) == {"type": "exit", "code": 3}


def test_long_socket_paths(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    server = stream.listen(deep)
    client = stream.connect(deep)
    conn, _ = server.accept()
    client.sendall(b"x")
    assert conn.recv(1) == b"x"
    for sock in (conn, client, server):
        sock.close()


def test_state_with_dead_monitor_is_repaired(tmp_path: Path) -> None:
    write_state(tmp_path, ContainerState(status="running", pid=12345, monitor_pid=2**22 + 17))
    state = read_state(tmp_path)
    assert state.status == "exited" and state.exit_code == 255 and state.pid == 0
    assert read_state(tmp_path / "missing").status == "created"


def test_resolv_conf_drops_loopback_nameservers(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nsearch example.com\n")
    assert (
        resolv_text("none", host) == "search example.com\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    )
    assert resolv_text("host", host) == host.read_text()
    host.write_text("nameserver 10.0.0.1\n")
    assert resolv_text("none", host) == "nameserver 10.0.0.1\n"


def test_killed_monitor_is_cleaned_up_on_next_look(tmp_path: Path, busybox_tar: Path) -> None:
    """SIGKILL of the monitor: the next read of the state repairs it and unmounts the rootfs."""
    import signal
    import time

    from tests.containers.support import dockyard_mounts, make_busybox_root, run_cli

    if os.geteuid() != 0:
        pytest.skip("needs root")
    root = tmp_path / "store"
    make_busybox_root(root, busybox_tar)
    cid = run_cli(root, "run", "-d", "busybox", "sleep", "60").stdout.decode().strip()
    directory = root / "containers" / cid
    state = read_state(directory)
    assert state.running and dockyard_mounts(root)
    os.kill(state.monitor_pid, signal.SIGKILL)
    os.kill(state.pid, signal.SIGKILL)
    time.sleep(0.2)
    repaired = read_state(directory)
    assert repaired.status == "exited" and repaired.exit_code == 255
    assert dockyard_mounts(root) == []
    assert run_cli(root, "rm", cid).returncode == 0


# ---------------------------------------------------------------- seccomp, --init, sizes


def test_default_seccomp_profile() -> None:
    import platform

    from dockyard.runtime import seccomp

    profile = seccomp.default_profile()
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW"
    if platform.machine() == "x86_64":
        assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    denied = profile["syscalls"][0]
    assert denied["action"] == "SCMP_ACT_ERRNO" and denied["errnoRet"] == 1
    for name in ("keyctl", "add_key", "request_key", "unshare", "setns", "mount", "reboot"):
        assert name in denied["names"]
    for allowed in ("clone", "chroot", "sethostname", "ptrace", "personality", "socket"):
        assert allowed not in denied["names"]
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in profile["syscalls"]
    clone_masks = sorted(
        rule["args"][0]["value"] for rule in profile["syscalls"] if rule["names"] == ["clone"]
    )
    assert len(clone_masks) == 7 and 0x10000000 in clone_masks  # CLONE_NEWUSER among them
    for rule in profile["syscalls"]:
        for arg in rule.get("args", []):
            if arg["op"] == "SCMP_CMP_MASKED_EQ":
                assert arg["value"] == arg["valueTwo"]  # (flags & bit) == bit
    spec = build_spec(
        ContainerSpec(
            process=ProcessSpec(args=["sh"], env=[]), rootfs="/r", hostname="h", seccomp=profile
        )
    )
    assert spec["linux"]["seccomp"] is profile
    bare = build_spec(
        ContainerSpec(process=ProcessSpec(args=["sh"], env=[]), rootfs="/r", hostname="h")
    )
    assert "seccomp" not in bare["linux"]


def test_seccomp_options_and_docker_profiles(tmp_path: Path) -> None:
    from dockyard.runtime import seccomp

    assert seccomp.profile_for(["seccomp=unconfined"], []) is None
    assert seccomp.profile_for(None, []) == seccomp.default_profile()
    assert seccomp.profile_for(["apparmor=unconfined"], []) == seccomp.default_profile()
    docker_profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {
                "names": ["mount"],
                "action": "SCMP_ACT_ALLOW",
                "includes": {"caps": ["CAP_SYS_ADMIN"]},
            },
            {"names": ["kcmp"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_KILL"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["vm86"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
            },
        ],
    }
    option = seccomp.parse_security_opts([f"seccomp={_write(tmp_path, docker_profile)}"])[0]
    profile = seccomp.profile_for([option], ["CAP_KILL", "CAP_CHOWN"])
    assert profile is not None
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == 1
    names = [rule["names"] for rule in profile["syscalls"]]
    assert names == [["read", "write"], ["ptrace"], ["personality"]]
    assert profile["syscalls"][2]["args"] == [
        {"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
    ]
    assert seccomp.parse_security_opts(["no-new-privileges", "label=disable"]) == [
        "no-new-privileges",
        "label=disable",
    ]
    for bad, message in (
        (["bogus"], 'invalid --security-opt 1: "bogus"'),
        (["seccomp=unconfined", "what=ever"], 'invalid --security-opt 2: "what=ever"'),
        ([f"seccomp={tmp_path}/missing.json"], "opening seccomp profile"),
        ([f"seccomp={_write(tmp_path, 'not json')}"], "decoding seccomp profile"),
        ([f"seccomp={_write(tmp_path, {'syscalls': []})}"], "missing defaultAction"),
    ):
        with pytest.raises(seccomp.ProfileError, match=message):
            seccomp.parse_security_opts(bad)


def _write(directory: Path, data: object) -> str:
    path = directory / f"profile{len(os.listdir(directory))}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_init_binary_and_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.runtime.spec import init_binary

    fake = tmp_path / "tini"
    fake.write_bytes(b"")
    fake.chmod(0o755)
    monkeypatch.setenv("DOCKYARD_INIT_PATH", str(fake))
    assert init_binary() == str(fake)
    monkeypatch.setenv("DOCKYARD_INIT_PATH", str(tmp_path / "none"))
    assert init_binary() is None
    spec = build_spec(
        ContainerSpec(
            process=ProcessSpec(args=["sh", "-c", "x"], env=[]),
            rootfs="/r",
            hostname="h",
            init_path=str(fake),
        )
    )
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "sh", "-c", "x"]
    mount = [m for m in spec["mounts"] if m["destination"] == "/sbin/docker-init"]
    assert mount == [
        {
            "destination": "/sbin/docker-init",
            "type": "bind",
            "source": str(fake),
            "options": ["rbind", "ro", "rprivate"],
        }
    ]


def test_upper_size_counts_like_overlay2(tmp_path: Path) -> None:
    from dockyard.containers.listing import upper_size

    upper = tmp_path / "upper"
    (upper / "d" / "e").mkdir(parents=True)
    (upper / "d" / "f").write_bytes(b"x" * 1000)
    os.link(upper / "d" / "f", upper / "g")  # counted once
    os.symlink("/bin/busybox", upper / "l")  # 12 bytes
    os.symlink("d", upper / "dl")  # a symlink to a directory: 1 byte
    (upper / "empty").write_bytes(b"")
    if os.geteuid() == 0:  # a whiteout (0/0 character device): counts nothing
        os.mknod(upper / "whiteout", 0o600 | 0o020000, os.makedev(0, 0))
    assert upper_size(tmp_path) == 1000 + 12 + 1


CRUN_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


@pytest.mark.skipif(shutil.which("crun") is None, reason="needs crun")
def test_crun_runs_from_a_sealed_copy_of_itself() -> None:
    """crun skips its own re-execution (CVE-2019-5736 protection) only when it runs from
    a memfd with exactly these seals; the copy must be crun, byte for byte."""
    runtime = get_runtime("crun")
    sealed = runtime.sealed_copy()
    try:
        assert sealed.exe_fd >= 0 and runtime.exe_fd == -1
        assert fcntl.fcntl(sealed.exe_fd, fcntl.F_GET_SEALS) == CRUN_SEALS
        with pytest.raises(OSError):
            os.pwrite(sealed.exe_fd, b"x", 0)
        with open(runtime.path, "rb") as binary:
            assert os.pread(sealed.exe_fd, 1 << 24, 0) == binary.read()
        assert sealed.argv("state", "x")[0] == f"/proc/self/fd/{sealed.exe_fd}"
        assert sealed.sealed_copy() is sealed
        # The copy runs through /proc/self/fd even though the descriptor is close-on-exec.
        proc = sealed.popen(["--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out, _ = proc.communicate()
        assert proc.returncode == 0 and out.startswith(b"crun version")
        # A runtime that is not crun is left as it is (runc is a 10 MB Go binary).
        assert Runtime("runc", "/usr/bin/runc").sealed_copy().exe_fd == -1
    finally:
        if sealed.exe_fd >= 0:
            os.close(sealed.exe_fd)
