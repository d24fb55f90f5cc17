"""The peers, installed from Debian and started here, isolated and on loopback only.

- Docker Engine 20.10 (``docker.io``): its own containerd and dockerd, with their
  own root, state, data root, exec root and sockets under the bench's work
  directory; ``--bridge=none --iptables=false --ip-masq=false``; HTTP(S)_PROXY
  points at a closed local port. A system docker service is never touched.
- Podman 4.3: its own storage root and run root (environment-selected
  containers.conf, storage.conf and registries.conf), cgroupfs, network none, runc.
- dockyard: its own store (``DOCKYARD_ROOT``), and its Engine API daemon on a
  socket of its own for the rows measured through ``docker``.
- skopeo and the CNCF registry (``docker-registry``) are started per scenario
  (see ``bench.registry_bench`` and ``bench.client_bench``).

Everything started here is stopped here, by PID; mounts left under the work
directory are unmounted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("docker.io", "containerd", "runc", "podman", "conmon", "skopeo", "docker-registry",
            "curl", "tar")  # fmt: skip
CLOSED_PROXY = "http://127.0.0.1:9"
DOCKER_CLI = "/usr/bin/docker"  # Debian's client, the same version as the engine


def missing_packages() -> list[str]:
    missing = []
    for package in PACKAGES:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
        )
        if "install ok installed" not in result.stdout:
            missing.append(package)
    return missing


def install_peers(log=print) -> None:  # type: ignore[no-untyped-def]
    """apt-get install what is missing, without starting any service."""
    missing = missing_packages()
    if not missing:
        return
    log(f"installing {' '.join(missing)} (apt-get, no service started)")
    policy = Path("/usr/sbin/policy-rc.d")
    made_policy = False
    if not policy.exists():  # forbid invoke-rc.d from starting docker.service
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        made_policy = True
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    finally:
        if made_policy:
            policy.unlink()


def mounts_under(path: Path) -> list[str]:
    prefix = str(path)
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1].replace("\\040", " ") for line in mounts]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def unmount_under(path: Path) -> None:
    for point in sorted(mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(check, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready in {timeout:.0f} s")


def quiet_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKYARD_ROOT", "DOCKYARD_CONFIG"):
        env.pop(key, None)
    env.update(extra)
    return env


class Engine:
    """One contender: a command line prefix and an environment."""

    name = "?"

    def __init__(self, work: Path) -> None:
        self.work = work
        self.env: dict[str, str] = quiet_env()

    def cmd(self, *args: str) -> list[str]:
        raise NotImplementedError

    def run(self, *args: str, check: bool = True, stdin=None) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
        result = subprocess.run(
            self.cmd(*args),
            env=self.env,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {result.stderr.strip()[-500:]}")
        return result

    def quiet(self, *args: str) -> None:
        """Run for timing: output to /dev/null, failure raises."""
        result = subprocess.run(
            self.cmd(*args),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{self.name} {' '.join(args)}: {result.stderr.decode(errors='replace')[-500:]}"
            )

    def has_image(self, ref: str) -> bool:
        return self.run("image", "inspect", ref, check=False).returncode == 0

    def version(self) -> str:
        return "?"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def remove_all_containers(self) -> None:
        ids = self.run("ps", "-aq", check=False).stdout.split()
        if ids:
            self.run("rm", "-f", *ids, check=False)


class Dockyard(Engine):
    name = "dockyard"

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        self.root = work / "dockyard"
        self.env = quiet_env(DOCKYARD_ROOT=str(self.root))
        # bytecode is compiled by the harness (as scripts/install.sh does); let
        # Python use it exactly as on an installed system
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPATH"] = str(REPO)
        script = Path(sys.executable).parent / "dockyard"
        self.prefix = (
            [str(script)] if script.exists() else [sys.executable, "-m", "dockyard.cli.main"]
        )
        self.daemon: subprocess.Popen | None = None
        self.socket = work / "dockyard.sock"

    def cmd(self, *args: str) -> list[str]:
        return [*self.prefix, *args]

    def version(self) -> str:
        return self.run("--version", check=False).stdout.strip()

    def start_daemon(self) -> None:
        log = open(self.work / "dockyard-daemon.log", "wb")
        self.daemon = subprocess.Popen(
            self.cmd("daemon", "-H", f"unix://{self.socket}", "-l", "error"),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        wait_for(self.socket.exists, 30, "dockyard daemon", self.daemon)

    def stop(self) -> None:
        if self.daemon is not None:
            stop_process(self.daemon, signal.SIGTERM)
            self.daemon = None
        self.remove_all_containers()
        unmount_under(self.root)


class Docker(Engine):
    """containerd + dockerd of Debian's docker.io, private to this run."""

    name = "docker"

    def __init__(self, work: Path, host: str | None = None) -> None:
        super().__init__(work)
        self.dir = work / "docker"
        self.socket = self.dir / "docker.sock"
        self.env = quiet_env(
            DOCKER_HOST=host or f"unix://{self.socket}",
            DOCKER_CONFIG=str(work / "docker-client"),
        )
        self.containerd: subprocess.Popen | None = None
        self.dockerd: subprocess.Popen | None = None

    def cmd(self, *args: str) -> list[str]:
        return [DOCKER_CLI, *args]

    def version(self) -> str:
        out = self.run("version", "--format", "{{.Server.Version}}", check=False).stdout.strip()
        return f"Docker Engine {out} (client {DOCKER_CLI})"

    def start(self) -> None:
        d = self.dir
        for sub in ("containerd", "data", "exec"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (self.work / "docker-client").mkdir(exist_ok=True)
        sock = d / "containerd.sock"
        (d / "containerd.toml").write_text(
            "version = 2\n"
            f'root = "{d}/containerd/root"\n'
            f'state = "{d}/containerd/state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{sock}"\n'
            f'[ttrpc]\n  address = "{sock}.ttrpc"\n'
            '[debug]\n  address = ""\n'
            '[metrics]\n  address = ""\n'
        )
        (d / "daemon.json").write_text(json.dumps({}))
        env = dict(
            os.environ,
            HTTP_PROXY=CLOSED_PROXY,
            HTTPS_PROXY=CLOSED_PROXY,
            http_proxy=CLOSED_PROXY,
            https_proxy=CLOSED_PROXY,
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        with open(d / "containerd.log", "wb") as log:
            self.containerd = subprocess.Popen(
                ["containerd", "--config", str(d / "containerd.toml")],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_for(sock.exists, 30, "containerd", self.containerd)
        with open(d / "dockerd.log", "wb") as log:
            self.dockerd = subprocess.Popen(
                [
                    "dockerd",
                    "--config-file",
                    str(d / "daemon.json"),
                    "--containerd",
                    str(sock),
                    "--data-root",
                    str(d / "data"),
                    "--exec-root",
                    str(d / "exec"),
                    "--pidfile",
                    str(d / "docker.pid"),
                    "-H",
                    f"unix://{self.socket}",
                    "--bridge=none",
                    "--iptables=false",
                    "--ip-masq=false",
                    "--storage-driver",
                    "overlay2",
                    "--exec-opt",
                    "native.cgroupdriver=cgroupfs",
                ],  # fmt: skip
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_for(
            lambda: self.run("version", check=False).returncode == 0, 60, "dockerd", self.dockerd
        )

    def stop(self) -> None:
        if self.dockerd is not None and self.dockerd.poll() is None:
            self.remove_all_containers()
        if self.dockerd is not None:
            stop_process(self.dockerd, signal.SIGTERM, timeout=30)
            self.dockerd = None
        if self.containerd is not None:
            stop_process(self.containerd, signal.SIGTERM, timeout=30)
            self.containerd = None
        unmount_under(self.dir)


class Podman(Engine):
    name = "podman"

    def __init__(self, work: Path) -> None:
        super().__init__(work)
        d = self.dir = work / "podman"
        self.env = quiet_env(
            CONTAINERS_CONF=str(d / "containers.conf"),
            CONTAINERS_STORAGE_CONF=str(d / "storage.conf"),
            CONTAINERS_REGISTRIES_CONF=str(d / "registries.conf"),
            REGISTRY_AUTH_FILE=str(d / "auth.json"),
            HTTP_PROXY=CLOSED_PROXY,
            HTTPS_PROXY=CLOSED_PROXY,
            NO_PROXY="127.0.0.1,localhost",
        )

    def cmd(self, *args: str) -> list[str]:
        return ["podman", *args]

    def version(self) -> str:
        return "Podman " + self.run("--version", check=False).stdout.strip().split()[-1]

    def start(self) -> None:
        d = self.dir
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        (d / "containers.conf").write_text(
            "[containers]\n"
            "default_ulimits = []\n"  # the VM refuses the default nofile limits
            'netns = "none"\n'
            'log_driver = "k8s-file"\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            'runtime = "runc"\n'
            f'tmp_dir = "{d}/tmp"\n'
        )
        (d / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{d}/root"\nrunroot = "{d}/run"\n'
        )
        (d / "registries.conf").write_text("unqualified-search-registries = []\n")
        (d / "auth.json").write_text("{}\n")
        self.run("info")

    def stop(self) -> None:
        if (self.dir / "containers.conf").exists():
            self.remove_all_containers()
        unmount_under(self.dir)


def tool_version(*command: str) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.strip().splitlines()[0] if out.strip() else "?"


def package_version(package: str) -> str:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True
    )
    return result.stdout.strip() or "?"


def processes_mentioning(path: Path) -> list[str]:
    """Live processes whose command line names something under ``path``."""
    found = []
    needle = str(path).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as stream:
                cmdline = stream.read()
            with open(f"/proc/{entry}/stat") as stream:
                state = stream.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state != "Z":
            text = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry}: {text[:200]}")
    return found


def leftovers(work: Path) -> list[str]:
    """What the run left behind: processes naming its directory, mounts under it."""
    problems = [f"process {line}" for line in processes_mentioning(work)]
    problems += [f"mount {point}" for point in mounts_under(work)]
    return problems


def remove_tree(path: Path) -> None:
    unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)
