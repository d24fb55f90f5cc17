"""Facts about this host and daemon for /version and /info (computed once where cheap)."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import socket
import subprocess
import time
from typing import Any

from dockyard.client.daemonconfig import load_daemon_config
from dockyard.daemon import apiversion
from dockyard.runtime.ocirt import available

ENGINE_VERSION = "0.1.0"
STARTED = time.time()


@functools.lru_cache(maxsize=1)
def kernel_version() -> str:
    return platform.release()


@functools.lru_cache(maxsize=1)
def operating_system() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as src:
            for line in src:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def go_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine
    )


@functools.lru_cache(maxsize=4)
def runtime_version(path: str) -> tuple[str, str]:
    """(version, commit) of crun/runc from `--version`."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=5
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "", ""
    version = commit = ""
    for line in out:
        if " version " in line and not version:
            version = line.rsplit(" ", 1)[-1]
        elif line.startswith("commit:"):
            commit = line.split(":", 1)[1].strip()
    return version, commit


def memory_total() -> int:
    try:
        with open("/proc/meminfo", encoding="utf-8") as src:
            for line in src:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def daemon_id(root: str) -> str:
    """A stable ID per store, in Docker's AAAA:BBBB:... shape."""
    digest = hashlib.sha512(f"dockyard:{root}".encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    chars = "".join(alphabet[b % 32] for b in digest[:48])
    return ":".join(chars[i : i + 4] for i in range(0, 48, 4))


def version_document() -> dict[str, Any]:
    api = apiversion.advertised()
    details = {
        "ApiVersion": api,
        "Arch": go_arch(),
        "BuildTime": "",
        "Experimental": "false",
        "GitCommit": "dockyard",
        "GoVersion": f"python{platform.python_version()}",
        "KernelVersion": kernel_version(),
        "MinAPIVersion": apiversion.MIN_API_VERSION,
        "Os": "linux",
    }
    components: list[dict[str, Any]] = [
        {"Name": "Engine", "Version": ENGINE_VERSION, "Details": details}
    ]
    for name, path in available().items():
        version, commit = runtime_version(path)
        components.append({"Name": name, "Version": version, "Details": {"GitCommit": commit}})
    return {
        "Platform": {"Name": "dockyard"},
        "Components": components,
        "Version": ENGINE_VERSION,
        "ApiVersion": api,
        "MinAPIVersion": apiversion.MIN_API_VERSION,
        "GitCommit": "dockyard",
        "GoVersion": details["GoVersion"],
        "Os": "linux",
        "Arch": go_arch(),
        "KernelVersion": kernel_version(),
        "BuildTime": "",
    }


def info_document(root: str, counts: dict[str, int]) -> dict[str, Any]:
    runtimes = {name: {"path": path} for name, path in available().items()}
    default_runtime = os.environ.get("DOCKYARD_RUNTIME") or next(iter(runtimes), "")
    registry = _registry_config()
    return {
        "ID": daemon_id(root),
        "Containers": counts.get("containers", 0),
        "ContainersRunning": counts.get("running", 0),
        "ContainersPaused": counts.get("paused", 0),
        "ContainersStopped": counts.get("stopped", 0),
        "Images": counts.get("images", 0),
        "Driver": "overlay2",
        "DriverStatus": [
            ["Backing Filesystem", "extfs"],
            ["Supports d_type", "true"],
            ["Native Overlay Diff", "true"],
            ["userxattr", "false"],
        ],
        "Plugins": {
            "Volume": ["local"],
            "Network": ["host", "null"],
            "Authorization": None,
            "Log": ["json-file"],
        },
        "MemoryLimit": True,
        "SwapLimit": False,
        "KernelMemory": False,
        "KernelMemoryTCP": False,
        "CpuCfsPeriod": True,
        "CpuCfsQuota": True,
        "CPUShares": True,
        "CPUSet": True,
        "PidsLimit": True,
        "IPv4Forwarding": False,
        "BridgeNfIptables": False,
        "BridgeNfIp6tables": False,
        "Debug": False,
        "NFd": len(os.listdir("/proc/self/fd")),
        "OomKillDisable": False,
        "NGoroutines": 0,
        "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version(),
        "NEventsListener": 0,
        "KernelVersion": kernel_version(),
        "OperatingSystem": operating_system(),
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": platform.machine(),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": registry,
        "NCPU": os.cpu_count() or 1,
        "MemTotal": memory_total(),
        "GenericResources": None,
        "DockerRootDir": root,
        "HttpProxy": os.environ.get("HTTP_PROXY", os.environ.get("http_proxy", "")),
        "HttpsProxy": os.environ.get("HTTPS_PROXY", os.environ.get("https_proxy", "")),
        "NoProxy": os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")),
        "Name": socket.gethostname(),
        "Labels": [],
        "ExperimentalBuild": False,
        "ServerVersion": ENGINE_VERSION,
        "Runtimes": runtimes,
        "DefaultRuntime": default_runtime,
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        },
        "LiveRestoreEnabled": True,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": [],
        "Warnings": None,
    }


def _registry_config() -> dict[str, Any]:
    insecure = ["127.0.0.0/8"]
    mirrors: list[str] = []
    try:
        config = load_daemon_config()
        mirrors = list(getattr(config, "mirrors", []) or [])
        extra = list(getattr(config, "insecure", []) or [])
        insecure += [entry for entry in extra if entry not in insecure]
    except Exception:  # noqa: BLE001 - no daemon.json, or the client is not built yet
        pass
    cidrs = [entry for entry in insecure if "/" in entry]
    names = [entry for entry in insecure if "/" not in entry]
    index_configs: dict[str, Any] = {
        "docker.io": {
            "Name": "docker.io",
            "Mirrors": mirrors,
            "Secure": True,
            "Official": True,
        }
    }
    for name in names:
        index_configs[name] = {"Name": name, "Mirrors": [], "Secure": False, "Official": False}
    return {
        "AllowNondistributableArtifactsCIDRs": [],
        "AllowNondistributableArtifactsHostnames": [],
        "InsecureRegistryCIDRs": cidrs,
        "IndexConfigs": index_configs,
        "Mirrors": mirrors,
    }
