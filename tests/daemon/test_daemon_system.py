"""The daemon itself: listening, locking the store, /_ping, /version, /info, errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.support import REPO, Daemon, have_docker_cli


@pytest.fixture
def daemon(tmp_path: Path):
    d = Daemon(tmp_path / "d").start()
    yield d
    d.stop()


def test_ping_get_and_head(daemon: Daemon) -> None:
    status, headers, body = daemon.request("GET", "/_ping")
    assert (status, body) == (200, b"OK")
    assert headers["Api-Version"] == "1.41"
    assert headers["Ostype"] == "linux"
    status, headers, body = daemon.request("HEAD", "/_ping")
    assert status == 200 and body == b""
    assert headers["Api-Version"] == "1.41"
    status, headers, _ = daemon.request("GET", "/v1.45/_ping")
    assert status == 200


def test_version_prefixes_and_errors(daemon: Daemon) -> None:
    version = daemon.json("GET", "/v1.41/version")
    assert version["ApiVersion"] == "1.41" and version["Os"] == "linux"
    assert daemon.json("GET", "/version")["Version"] == version["Version"]
    status, _, body = daemon.request("GET", "/v1.99/version")
    assert status == 400 and "too new" in json.loads(body)["message"]
    status, _, body = daemon.request("GET", "/v1.41/nosuchthing")
    assert status == 404 and json.loads(body) == {"message": "page not found"}
    status, _, body = daemon.request("GET", "/v1.41/images/nosuchimage/json")
    assert status == 404
    assert json.loads(body)["message"] == (
        "no such image: nosuchimage: No such image: nosuchimage:latest"
    )
    status, _, body = daemon.request("DELETE", "/v1.41/containers/nosuchcontainer")
    assert status == 404
    assert json.loads(body) == {"message": "No such container: nosuchcontainer"}
    status, _, body = daemon.request("POST", "/v1.41/images/busybox/tag?repo=Upper/case")
    assert status == 400
    assert json.loads(body)["message"] == (
        "invalid reference format: repository name must be lowercase"
    )


def test_info_counts(daemon: Daemon) -> None:
    info = daemon.json("GET", "/info")
    assert info["Images"] == 0 and info["Containers"] == 0
    assert info["DockerRootDir"] == str(daemon.root)
    assert info["OSType"] == "linux" and info["Driver"] == "overlay2"


def test_second_daemon_on_the_same_store_is_refused(daemon: Daemon, tmp_path: Path) -> None:
    other = Daemon(daemon.base)
    other.socket = tmp_path / "other.sock"
    result = subprocess.run(other.command(), capture_output=True, text=True, timeout=30, cwd=REPO)
    assert result.returncode != 0
    assert "in use by another dockyard daemon" in result.stderr
    assert not other.socket.exists()


def test_socket_removed_on_exit_and_stale_socket_replaced(tmp_path: Path) -> None:
    d = Daemon(tmp_path / "d").start()
    assert d.socket.exists()
    assert d.stop() == 0
    assert not d.socket.exists()
    # a socket file nobody listens on (a daemon that was killed) does not block a restart
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(d.socket))
    stale.close()
    d.start()
    assert d.request("GET", "/_ping")[0] == 200
    d.stop()


def test_tcp_listener(tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    d = Daemon(tmp_path / "d")
    command = d.command("--host", f"tcp://127.0.0.1:{port}")
    d.base.mkdir(parents=True)
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE)
    try:
        import http.client
        import time

        for _ in range(100):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/v1.41/_ping")
                response = connection.getresponse()
                assert response.read() == b"OK"
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        else:
            raise AssertionError("tcp listener did not come up")
    finally:
        process.terminate()
        process.wait(20)


@pytest.mark.skipif(not have_docker_cli(), reason="needs the docker CLI")
def test_docker_version_and_info(daemon: Daemon) -> None:
    result = daemon.docker("version")
    assert "API version:       1.41 (downgraded from" in result.stdout
    assert " Engine:\n" in result.stdout
    result = daemon.docker("info")
    assert " Images: 0\n" in result.stdout
    assert f" Docker Root Dir: {daemon.root}\n" in result.stdout
    assert " Storage Driver: overlay2\n" in result.stdout


def test_cli_and_daemon_at_the_same_time(daemon: Daemon, busybox_tar: Path) -> None:
    """A dockyard CLI import and daemon requests on the same store, concurrently."""
    import threading

    results: list[object] = []

    def hammer() -> None:
        for _ in range(30):
            results.append(daemon.request("GET", "/images/json")[0])

    thread = threading.Thread(target=hammer)
    thread.start()
    cli = subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "import", str(busybox_tar), "bb:1"],
        env=daemon.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    thread.join()
    assert cli.returncode == 0, cli.stderr
    assert set(results) == {200}
    names = [tag for image in daemon.json("GET", "/images/json") for tag in image["RepoTags"]]
    assert names == ["bb:1"]


@pytest.mark.skipif(not have_docker_cli(), reason="needs the docker CLI")
def test_networks_and_volumes(daemon: Daemon) -> None:
    names = daemon.docker("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout
    assert names.splitlines() == ["host host", "none null"]
    assert daemon.docker("volume", "ls", "-q").stdout == ""
    result = daemon.docker("volume", "create", "data", check=False)
    assert result.returncode == 1 and "use bind mounts" in result.stderr
