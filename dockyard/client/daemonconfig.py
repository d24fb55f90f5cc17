"""daemon.json, as Docker reads it: registry mirrors, insecure registries, the search index.

The file is /etc/dockyard/daemon.json, or the one named by ``--config`` or
``DOCKYARD_CONFIG``. Keys are Docker's: ``registry-mirrors`` (URLs tried first when
pulling a docker.io image) and ``insecure-registries`` (``host[:port]`` names or CIDRs
that may use plain HTTP and unverified TLS). ``127.0.0.0/8``, ``::1`` and ``localhost``
are insecure by default, as in Docker. ``index-server`` (a dockyard addition) names the
index that a plain ``search TERM`` asks; Docker Hub's by default.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument

DEFAULT_PATH = "/etc/dockyard/daemon.json"
DEFAULT_INDEX = "https://index.docker.io"
DEFAULT_INSECURE_CIDRS = ("127.0.0.0/8", "::1/128")


@dataclass
class DaemonConfig:
    mirrors: list[str] = field(default_factory=list)
    insecure: list[str] = field(default_factory=list)
    index_server: str = DEFAULT_INDEX
    path: str | None = None

    def is_insecure(self, host: str) -> bool:
        """May ``host`` (``name[:port]``) be reached over plain HTTP / unverified TLS?"""
        name = split_host(host)[0]
        if name == "localhost" or host in self.insecure or name in self.insecure:
            return True
        networks = [*DEFAULT_INSECURE_CIDRS, *(e for e in self.insecure if "/" in e)]
        for address in _addresses(name, resolve=len(networks) > len(DEFAULT_INSECURE_CIDRS)):
            for cidr in networks:
                try:
                    if address in ipaddress.ip_network(cidr, strict=False):
                        return True
                except ValueError:
                    continue
        return False


def split_host(host: str) -> tuple[str, str | None]:
    """('127.0.0.1', '5000') from '127.0.0.1:5000'; IPv6 brackets removed."""
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[1:end], host[end + 1 :]
        return name, rest[1:] if rest.startswith(":") else None
    if host.count(":") == 1:
        name, port = host.split(":")
        return name, port
    return host, None


def _addresses(name: str, resolve: bool) -> list[ipaddress._BaseAddress]:
    try:
        return [ipaddress.ip_address(name)]
    except ValueError:
        pass
    if not resolve:
        return []
    try:
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return []
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def _strip_scheme(entry: str) -> str:
    for scheme in ("http://", "https://"):
        if entry.startswith(scheme):
            entry = entry[len(scheme) :]
    return entry.rstrip("/")


def config_path(explicit: str | None = None) -> str:
    return explicit or os.environ.get("DOCKYARD_CONFIG") or DEFAULT_PATH


def load_daemon_config(explicit: str | None = None) -> DaemonConfig:
    path = config_path(explicit)
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
    except FileNotFoundError:
        if explicit or os.environ.get("DOCKYARD_CONFIG"):
            raise InvalidArgument(
                f"unable to configure the daemon with file {path}: no such file"
            ) from None
        return DaemonConfig()
    try:
        document = json.loads(raw) if raw.strip() else {}
    except ValueError as error:
        raise InvalidArgument(f"unable to configure the daemon with file {path}: {error}") from None
    if not isinstance(document, dict):
        raise InvalidArgument(f"unable to configure the daemon with file {path}: not an object")
    mirrors = _string_list(document, "registry-mirrors", path)
    for mirror in mirrors:
        if not mirror.startswith(("http://", "https://")):
            raise InvalidArgument(f"invalid mirror: unsupported scheme in {mirror!r}")
    insecure = [_strip_scheme(e) for e in _string_list(document, "insecure-registries", path)]
    index = document.get("index-server") or DEFAULT_INDEX
    if not isinstance(index, str):
        raise InvalidArgument(f"unable to configure the daemon with file {path}: index-server")
    if "://" not in index:
        index = "https://" + index
    return DaemonConfig([m.rstrip("/") for m in mirrors], insecure, index.rstrip("/"), path)


def _string_list(document: dict, key: str, path: str) -> list[str]:
    value = document.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(
            f"unable to configure the daemon with file {path}: {key} must be a list of strings"
        )
    return value
