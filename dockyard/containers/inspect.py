"""`container inspect`: Docker's JSON shape for a container."""

from __future__ import annotations

from pathlib import Path

from dockyard.containers import record as records
from dockyard.containers.lifecycle import find
from dockyard.runtime.state import ContainerState, read_state
from dockyard.store import Store

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any


def _state(state: ContainerState) -> dict[str, Any]:
    return {
        "Status": state.status,
        "Running": state.running,
        "Paused": state.paused,
        "Restarting": False,
        "OOMKilled": state.oom_killed,
        "Dead": state.status == "dead",
        "Pid": state.pid,
        "ExitCode": state.exit_code,
        "Error": state.error,
        "StartedAt": state.started_at,
        "FinishedAt": state.finished_at,
    }


def _graph_driver(record: records.ContainerRecord, directory: Path) -> dict[str, Any]:
    lowers = [str(directory / "init"), *reversed(record.layer_chain)]
    return {
        "Data": {
            "LowerDir": ":".join(lowers),
            "MergedDir": str(directory / "merged"),
            "UpperDir": str(directory / "upper"),
            "WorkDir": str(directory / "work"),
        },
        "Name": "overlay2",
    }


def mount_points(record: records.ContainerRecord) -> list[dict[str, Any]]:
    mounts = []
    for bind in record.host_config.get("Binds") or []:
        parts = bind.split(":")
        mode = parts[2] if len(parts) > 2 else ""
        mounts.append(
            {
                "Type": "bind",
                "Source": parts[0],
                "Destination": parts[1],
                "Mode": mode,
                "RW": "ro" not in mode.split(","),
                "Propagation": "rprivate",
            }
        )
    return mounts


def _endpoint() -> dict[str, Any]:
    return {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": None,
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": "",
        "DriverOpts": None,
    }


def _network_settings(record: records.ContainerRecord) -> dict[str, Any]:
    return {
        "Bridge": "",
        "SandboxID": "",
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": {},
        "SandboxKey": "",
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": "",
        "Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "MacAddress": "",
        "Networks": {record.network: _endpoint()},
    }


def inspect_record(
    record: records.ContainerRecord, directory: Path, sizes: tuple[int, int] | None = None
) -> dict[str, Any]:
    state = read_state(directory)
    document = {
        "Id": record.id,
        "Created": record.created,
        "Path": record.path,
        "Args": record.args,
        "State": _state(state),
        "Image": record.image,
        "ResolvConfPath": str(directory / "resolv.conf"),
        "HostnamePath": str(directory / "hostname"),
        "HostsPath": str(directory / "hosts"),
        "LogPath": str(directory / f"{record.id}-json.log"),
        "Name": "/" + record.name,
        "RestartCount": state.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": record.host_config,
        "GraphDriver": _graph_driver(record, directory),
    }
    if sizes is not None:  # `inspect --size`: Docker's SizeRw and SizeRootFs
        document["SizeRw"], document["SizeRootFs"] = sizes
    document["Mounts"] = mount_points(record)
    document["Config"] = record.config
    document["NetworkSettings"] = _network_settings(record)
    return document


def inspect_container(store: Store, name: str, size: bool = False) -> dict[str, Any]:
    record, directory = find(store, name)
    sizes = None
    if size:
        from dockyard.containers.listing import ContainerSummary, container_sizes

        row = store.find_container(record.id)
        summary = ContainerSummary(row, record, read_state(directory), directory)
        sizes = container_sizes(store, summary)
    return inspect_record(record, directory, sizes)
