"""The Engine API requests behind `docker images` and `docker run --rm`, sent straight to
a daemon's socket: the daemon's own time per request, without the docker CLI's start-up.

Each request opens a fresh connection, as the docker CLI does.
"""

from __future__ import annotations

import http.client
import json
import socket

API = "/v1.41"


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def _call(path: str, method: str, url: str, body: dict | None = None) -> tuple[int, bytes]:
    connection = UnixConnection(path)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, API + url, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def list_images(path: str) -> None:
    status, body = _call(path, "GET", "/images/json")
    if status != 200 or not json.loads(body):
        raise RuntimeError(f"GET /images/json answered {status}: {body[:200]!r}")


def run_rm(path: str, image: str = "busybox", command: tuple[str, ...] = ("true",)) -> None:
    """create (AutoRemove, network none), wait?condition=removed sent before start, start,
    then the wait's answer: what `docker run --rm` asks of the daemon."""
    config = {
        "Image": image,
        "Cmd": list(command),
        "HostConfig": {"AutoRemove": True, "NetworkMode": "none"},
    }
    status, body = _call(path, "POST", "/containers/create", config)
    if status != 201:
        raise RuntimeError(f"create answered {status}: {body[:200]!r}")
    container = json.loads(body)["Id"]
    waiter = UnixConnection(path)
    try:
        waiter.request("POST", f"{API}/containers/{container}/wait?condition=removed")
        status, body = _call(path, "POST", f"/containers/{container}/start")
        if status != 204:
            raise RuntimeError(f"start answered {status}: {body[:200]!r}")
        response = waiter.getresponse()
        answer = response.read()
        if response.status != 200 or json.loads(answer).get("StatusCode") != 0:
            raise RuntimeError(f"wait answered {response.status}: {answer[:200]!r}")
    finally:
        waiter.close()
