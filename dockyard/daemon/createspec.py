"""POST /containers/create: Docker's Config + HostConfig to engine.containers.create's
keyword arguments.

dockyard runs containers with the `none` or `host` network, bind mounts, a
read-only rootfs, --init and a choice of runtime. Other HostConfig settings
are refused with a clear message when they ask for something (zero values
and empty lists pass, as the docker CLI always sends them). Fields the
create arguments cannot express (a multi-word Entrypoint, the attach flags)
are written into the record after creation.
"""

from __future__ import annotations

from typing import Any

from dockyard.daemon.errors import bad_request

# HostConfig keys that must keep their zero value (name shown to the user).
UNSUPPORTED_HOST = {
    "Privileged": "--privileged",
    "CapAdd": "--cap-add",
    "CapDrop": "--cap-drop",
    "Devices": "--device",
    "DeviceRequests": "--gpus",
    "VolumesFrom": "--volumes-from",
    "Links": "--link",
    "PortBindings": "-p/--publish",
    "PublishAllPorts": "-P/--publish-all",
    "Memory": "--memory",
    "MemorySwap": "--memory-swap",
    "MemoryReservation": "--memory-reservation",
    "NanoCpus": "--cpus",
    "CpuShares": "--cpu-shares",
    "CpuQuota": "--cpu-quota",
    "CpuPeriod": "--cpu-period",
    "CpusetCpus": "--cpuset-cpus",
    "PidsLimit": "--pids-limit",
    "Dns": "--dns",
    "DnsSearch": "--dns-search",
    "DnsOptions": "--dns-option",
    "ExtraHosts": "--add-host",
    "Sysctls": "--sysctl",
    "Tmpfs": "--tmpfs",
    "SecurityOpt": "--security-opt",
    "Ulimits": "--ulimit",
    "PidMode": "--pid",
    "IpcMode": "--ipc",
    "UTSMode": "--uts",
    "UsernsMode": "--userns",
    "GroupAdd": "--group-add",
}
ALLOWED_IPC = ("", "private", "shareable")
NETWORKS = {"": "none", "default": "none", "bridge": "none", "none": "none", "host": "host"}


def _is_set(value: Any) -> bool:
    if value in (None, "", 0, False, -1):
        return False
    if isinstance(value, (list, dict)):
        return any(_is_set(v) for v in (value.values() if isinstance(value, dict) else value))
    return True


def check_host_config(host: dict[str, Any]) -> None:
    for key, flag in UNSUPPORTED_HOST.items():
        value = host.get(key)
        if key == "IpcMode" and value in ALLOWED_IPC:
            continue
        if key == "PidsLimit" and value in (None, 0, -1):
            continue
        if _is_set(value):
            raise bad_request(f"dockyard does not support {key} ({flag})")
    restart = (host.get("RestartPolicy") or {}).get("Name") or "no"
    if restart not in ("", "no"):
        raise bad_request(f"dockyard does not support restart policies ({restart})")
    log_type = (host.get("LogConfig") or {}).get("Type") or "json-file"
    if log_type != "json-file":
        raise bad_request(f"dockyard only has the json-file log driver, not {log_type}")


def _binds(host: dict[str, Any]) -> list[str]:
    binds = list(host.get("Binds") or [])
    for mount in host.get("Mounts") or []:
        kind = mount.get("Type") or "volume"
        if kind != "bind":
            raise bad_request(f"dockyard supports bind mounts only, not type={kind}")
        spec = f"{mount.get('Source', '')}:{mount.get('Target', '')}"
        if mount.get("ReadOnly"):
            spec += ":ro"
        binds.append(spec)
    return binds


def create_arguments(name: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of engine.containers.create for this request body."""
    config = dict(body)
    host = dict(config.pop("HostConfig", None) or {})
    image = config.get("Image") or ""
    if not image:
        raise bad_request("Config.Image is required")
    check_host_config(host)
    network = host.get("NetworkMode") or ""
    if network not in NETWORKS:
        raise bad_request(f"network {network} not found (dockyard supports none and host)")
    entrypoint = config.get("Entrypoint")
    if isinstance(entrypoint, str):
        entrypoint = [entrypoint]
    command = config.get("Cmd")
    if isinstance(command, str):
        command = [command]
    return dict(
        image=image,
        command=list(command or []),
        entrypoint=(entrypoint[0] if entrypoint else ("" if entrypoint == [] else None)),
        name=name or None,
        env=[item for item in config.get("Env") or [] if "=" in item],
        workdir=config.get("WorkingDir") or None,
        user=config.get("User") or None,
        hostname=config.get("Hostname") or None,
        network=NETWORKS[network],
        volumes=_binds(host),
        read_only=bool(host.get("ReadonlyRootfs")),
        init=bool(host.get("Init")),
        tty=bool(config.get("Tty")),
        interactive=bool(config.get("OpenStdin")),
        attach=bool(config.get("AttachStdout") or config.get("AttachStderr")),
        auto_remove=bool(host.get("AutoRemove")),
        runtime=host.get("Runtime") or None,
        labels=dict(config.get("Labels") or {}),
    )


def fix_record(record: Any, body: dict[str, Any]) -> bool:
    """Write back what the create arguments could not carry; True when the record changed."""
    changed = False
    entrypoint = body.get("Entrypoint")
    if isinstance(entrypoint, list) and len(entrypoint) > 1:
        command = body.get("Cmd") if body.get("Cmd") is not None else None
        record.config["Entrypoint"] = list(entrypoint)
        record.config["Cmd"] = list(command) if command else None
        full = [*entrypoint, *(command or [])]
        record.path, record.args = full[0], full[1:]
        changed = True
    for key in ("AttachStdin", "AttachStdout", "AttachStderr", "StdinOnce", "Domainname"):
        if key in body and record.config.get(key) != body[key]:
            record.config[key] = body[key]
            changed = True
    if body.get("StopTimeout") is not None:
        record.config["StopTimeout"] = body["StopTimeout"]
        changed = True
    if body.get("StopSignal"):
        record.config["StopSignal"] = body["StopSignal"]
        changed = True
    host = body.get("HostConfig") or {}
    size = host.get("ConsoleSize")
    if isinstance(size, list) and len(size) == 2 and any(size):
        record.host_config["ConsoleSize"] = size
        changed = True
    return changed
