"""Parse --host values and open the sockets: unix:///path or tcp://127.0.0.1:PORT."""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass

from dockyard.errors import Conflict, InvalidArgument

DEFAULT_HOST = "unix:///run/dockyard.sock"


@dataclass(frozen=True)
class Host:
    scheme: str  # "unix" or "tcp"
    path: str = ""
    address: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        return f"tcp://{self.address}:{self.port}"


def parse_host(text: str) -> Host:
    if text.startswith("unix://"):
        path = text[len("unix://") :]
        if not path.startswith("/"):
            raise InvalidArgument(f"invalid host {text}: the socket path must be absolute")
        return Host("unix", path=path)
    if text.startswith("tcp://"):
        rest = text[len("tcp://") :].rstrip("/")
        address, sep, port = rest.rpartition(":")
        if not sep or not port.isdigit():
            raise InvalidArgument(f"invalid host {text}: expected tcp://ADDRESS:PORT")
        return Host("tcp", address=address.strip("[]") or "127.0.0.1", port=int(port))
    if text.startswith("/"):
        return Host("unix", path=text)
    raise InvalidArgument(f"invalid host {text}: use unix:///path or tcp://127.0.0.1:PORT")


def unix_listener(path: str) -> socket.socket:
    """A listening unix socket at path; a stale socket file is replaced, a live one refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if not stat.S_ISSOCK(st.st_mode):
            raise Conflict(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody listens: left over from a daemon that died
        else:
            raise Conflict(f"{path} is in use by another daemon")
        finally:
            probe.close()
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o660)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def tcp_listener(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock
