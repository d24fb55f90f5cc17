"""Write the OCI runtime spec (config.json) for a container, as Docker does."""

from __future__ import annotations

from dockyard.datarecord import dataclass, field

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

DEFAULT_CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]

MASKED_PATHS = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
]

READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# Docker's default device cgroup rules: deny all, then allow the standard nodes.
_DEVICE_RULES: list[dict[str, Any]] = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},  # zero
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},  # null
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},  # urandom
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},  # random
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},  # tty
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},  # console
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},  # full
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},  # ptmx
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},  # pts
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},  # tun
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
]


INIT_CANDIDATES = (
    "/usr/bin/tini-static",  # Debian's tini package: a static tini
    "/usr/libexec/docker/docker-init",  # Docker's own packages (a static tini)
    "/usr/local/bin/docker-init",
)


def init_binary() -> str | None:
    """A static init for --init ($DOCKYARD_INIT_PATH, else tini-static or docker-init)."""
    import os

    explicit = os.environ.get("DOCKYARD_INIT_PATH")
    for path in (explicit,) if explicit else INIT_CANDIDATES:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


@dataclass
class Bind:
    source: str
    destination: str
    readonly: bool = False


@dataclass
class ProcessSpec:
    args: list[str]
    env: list[str]
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    terminal: bool = False
    console_size: tuple[int, int] | None = None  # (height, width)


@dataclass
class ContainerSpec:
    process: ProcessSpec
    rootfs: str
    hostname: str
    network: str = "none"  # none | host
    readonly_rootfs: bool = False
    hosts_path: str | None = None
    hostname_path: str | None = None
    resolv_path: str | None = None
    binds: list[Bind] = field(default_factory=list)
    cgroups_path: str | None = None
    init_path: str | None = None  # a static init binary for --init
    seccomp: dict[str, Any] | None = None  # the OCI linux.seccomp section; None: unconfined


def _rlimits() -> list[dict[str, Any]]:
    """RLIMIT_NOFILE as Docker/containerd sets it (1048576), capped by what the host allows."""
    import resource  # here: only the monitor builds specs (start-up time)

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = 1048576 if hard == resource.RLIM_INFINITY else min(1048576, hard)
    return [{"type": "RLIMIT_NOFILE", "hard": limit, "soft": limit}]


def _mounts(spec: ContainerSpec) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [
        {
            "destination": "/proc",
            "type": "proc",
            "source": "proc",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["ro", "nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
    ]
    for destination, source in (
        ("/etc/resolv.conf", spec.resolv_path),
        ("/etc/hostname", spec.hostname_path),
        ("/etc/hosts", spec.hosts_path),
    ):
        if source:
            mounts.append(
                {
                    "destination": destination,
                    "type": "bind",
                    "source": source,
                    "options": ["rbind", "rprivate"],
                }
            )
    for bind in spec.binds:
        options = ["rbind", "rprivate"] + (["ro"] if bind.readonly else [])
        mounts.append(
            {
                "destination": bind.destination,
                "type": "bind",
                "source": bind.source,
                "options": options,
            }
        )
    if spec.init_path:
        mounts.append(
            {
                "destination": "/sbin/docker-init",
                "type": "bind",
                "source": spec.init_path,
                "options": ["rbind", "ro", "rprivate"],
            }
        )
    return mounts


def build_spec(spec: ContainerSpec) -> dict[str, Any]:
    """The runtime spec (OCI runtime-spec 1.0) as a JSON-ready dict."""
    process = spec.process
    args = list(process.args)
    if spec.init_path:
        args = ["/sbin/docker-init", "--", *args]
    proc: dict[str, Any] = {
        "terminal": process.terminal,
        "user": {"uid": process.uid, "gid": process.gid},
        "args": args,
        "env": list(process.env),
        "cwd": process.cwd or "/",
        "capabilities": {key: list(DEFAULT_CAPS) for key in ("bounding", "effective", "permitted")},
        "rlimits": _rlimits(),
        "noNewPrivileges": True,
    }
    if process.additional_gids:
        proc["user"]["additionalGids"] = list(process.additional_gids)
    if process.terminal and process.console_size:
        height, width = process.console_size
        proc["consoleSize"] = {"height": height, "width": width}
    namespaces = [{"type": t} for t in ("pid", "mount", "ipc", "uts")]
    if spec.network != "host":
        namespaces.append({"type": "network"})
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "maskedPaths": list(MASKED_PATHS),
        "readonlyPaths": list(READONLY_PATHS),
        "resources": {"devices": [dict(rule) for rule in _DEVICE_RULES]},
    }
    if spec.cgroups_path:
        linux["cgroupsPath"] = spec.cgroups_path
    if spec.seccomp:
        linux["seccomp"] = spec.seccomp
    return {
        "ociVersion": "1.0.2",
        "process": proc,
        "root": {"path": spec.rootfs, "readonly": spec.readonly_rootfs},
        "hostname": spec.hostname,
        "mounts": _mounts(spec),
        "linux": linux,
    }
