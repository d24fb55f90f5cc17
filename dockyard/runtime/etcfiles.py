"""The engine-owned /etc/hosts, /etc/hostname and /etc/resolv.conf of a container."""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
_LOCAL_NS = re.compile(r"^\s*nameserver\s+(127\.\d+\.\d+\.\d+|::1)\s*$")


def hosts_text(network: str) -> str:
    if network == "host":
        try:
            return Path("/etc/hosts").read_text()
        except OSError:
            return DEFAULT_HOSTS
    return DEFAULT_HOSTS


def resolv_text(network: str, host_resolv: Path = Path("/etc/resolv.conf")) -> str:
    """The host's resolv.conf; for private networks without loopback nameservers (Docker's rule)."""
    try:
        text = host_resolv.read_text()
    except OSError:
        text = ""
    if network == "host":
        return text
    lines = [line for line in text.splitlines() if not _LOCAL_NS.match(line)]
    if not any(line.strip().startswith("nameserver") for line in lines):
        lines += [f"nameserver {ns}" for ns in DEFAULT_NAMESERVERS]
    return "\n".join(lines).strip("\n") + "\n"


def write_all(container_dir: Path, hostname: str, network: str) -> None:
    (container_dir / "hostname").write_text(hostname + "\n")
    (container_dir / "hosts").write_text(hosts_text(network))
    (container_dir / "resolv.conf").write_text(resolv_text(network))
