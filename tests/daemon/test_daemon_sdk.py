"""The docker Python SDK (PyPI `docker`) against the daemon: the checks of issue 6.

The SDK pins API 1.45 without negotiating; the daemon accepts that prefix.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.daemon.support import Daemon, have_runtime, import_base_images, running_registry


def _sdk():  # type: ignore[no-untyped-def]
    """The docker SDK; installed into this environment with pip when it is missing
    (it is in the test extra of pyproject.toml)."""
    try:
        import docker as sdk
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "docker>=7"],
            check=False,
            capture_output=True,
            timeout=300,
        )
        try:
            import docker as sdk
        except ImportError:
            pytest.skip("the docker SDK is not installed and pip could not install it")
    return sdk


docker = _sdk()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path):
    d = Daemon(tmp_path_factory.mktemp("sdk") / "d").start()
    import_base_images(d, busybox_tar)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def client(daemon: Daemon):
    sdk = docker.DockerClient(base_url=daemon.host, timeout=120)
    yield sdk
    for container in sdk.containers.list(all=True):
        container.remove(force=True)
    sdk.close()


def test_ping_version_info(client, daemon: Daemon) -> None:  # type: ignore[no-untyped-def]
    assert client.ping() is True
    negotiated = docker.DockerClient(base_url=daemon.host, version="auto")
    assert negotiated.api.api_version == "1.41"
    negotiated.close()
    assert client.version()["ApiVersion"] == "1.41"
    assert client.info()["Images"] >= 1


def test_images_list_get_save_load(client, daemon: Daemon) -> None:  # type: ignore[no-untyped-def]
    images = client.images.list()
    assert any("busybox:latest" in image.tags for image in images)
    image = client.images.get("busybox")
    data = b"".join(image.save(named=True))
    assert data[:512].count(b"\0") > 0  # a tar
    image.tag("sdk", "copy")
    client.images.remove("sdk:copy")
    loaded = client.images.load(data)
    assert [i.id for i in loaded] == [image.id]
    assert "busybox:latest" in loaded[0].tags


@pytest.mark.skipif(not have_runtime(), reason="needs root and an OCI runtime")
def test_containers_run_logs_wait_commit(client) -> None:  # type: ignore[no-untyped-def]
    container = client.containers.run(
        "busybox", ["sh", "-c", "echo out; echo err >&2; echo data > /made; exit 3"], detach=True
    )
    assert client.containers.get(container.id).id == container.id
    assert container.wait(timeout=60) == {"Error": None, "StatusCode": 3}
    assert container.logs() == b"out\nerr\n"
    assert container.logs(stderr=False) == b"out\n"
    container.reload()
    assert container.status == "exited" and container.attrs["State"]["ExitCode"] == 3
    image = container.commit(
        repository="sdk-commit", tag="v1", message="from the sdk", author="sdk"
    )
    assert "sdk-commit:v1" in image.tags
    assert image.attrs["Comment"] == "from the sdk" and image.attrs["Author"] == "sdk"
    output = client.containers.run("sdk-commit:v1", ["cat", "/made"], remove=True)
    assert output == b"data\n"
    container.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(container.id)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("nosuchimage")


@pytest.mark.skipif(not have_runtime(), reason="needs root and an OCI runtime")
def test_attach_socket(client) -> None:  # type: ignore[no-untyped-def]
    container = client.containers.create("busybox", ["cat"], stdin_open=True)
    sock = client.api.attach_socket(
        container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
    )
    raw = sock._sock
    container.start()
    raw.sendall(b"hello through attach\n")
    raw.shutdown(socket.SHUT_WR)  # stdin EOF: cat exits
    data = b""
    deadline = time.time() + 30
    raw.settimeout(30)
    while time.time() < deadline:
        chunk = raw.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    # without a TTY the stream is multiplexed: 8-byte headers (1 = stdout)
    assert data[:8] == b"\x01\x00\x00\x00\x00\x00\x00\x15"
    assert data[8:] == b"hello through attach\n"
    assert container.wait(timeout=30)["StatusCode"] == 0
    container.remove()


@pytest.mark.skipif(not have_runtime(), reason="needs root and an OCI runtime")
def test_exec_run(client) -> None:  # type: ignore[no-untyped-def]
    container = client.containers.run("busybox", ["sleep", "600"], detach=True)
    result = container.exec_run(["sh", "-c", "echo in; exit 2"])
    assert (result.exit_code, result.output) == (2, b"in\n")
    container.remove(force=True)


def test_api_pull_stream_decode(client, daemon: Daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with running_registry(tmp_path / "registry") as address:
        name = f"{address}/sdk/busybox"
        client.images.get("busybox").tag(name, "latest")
        pushed = list(client.api.push(name, tag="latest", stream=True, decode=True))
        assert any(
            "digest" in (m.get("aux") or {}) or "digest:" in m.get("status", "") for m in pushed
        )
        client.images.remove(f"{name}:latest")
        messages = list(client.api.pull(name, tag="latest", stream=True, decode=True))
        statuses = [m.get("status", "") for m in messages]
        assert statuses[0].startswith("latest: Pulling from") or "Pulling from" in statuses[0]
        assert statuses[-1] in (
            f"Status: Image is up to date for {name}:latest",
            f"Status: Downloaded newer image for {name}:latest",
        )
        assert client.images.get(f"{name}:latest").id == client.images.get("busybox").id


def test_errors_are_api_errors(client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(docker.errors.APIError) as caught:
        client.images.get("busybox").tag("Upper/case")
    assert "must be lowercase" in str(caught.value)


@pytest.mark.skipif(not have_runtime(), reason="needs root and an OCI runtime")
def test_detach_keys_end_a_tty_attach(client) -> None:  # type: ignore[no-untyped-def]
    container = client.containers.run("busybox", ["sh"], tty=True, stdin_open=True, detach=True)
    sock = client.api.attach_socket(
        container.id, params={"stdin": 1, "stdout": 1, "stream": 1, "detachKeys": "ctrl-a,x"}
    )
    raw = sock._sock
    raw.settimeout(20)
    raw.sendall(b"echo marker-$((6*7))\r")
    data = b""
    while b"marker-42" not in data:
        chunk = raw.recv(65536)
        assert chunk, data
        data += chunk
    raw.sendall(b"\x01x")
    while raw.recv(65536):  # the daemon ends the attach
        pass
    sock.close()
    container.reload()
    assert container.status == "running"
    container.remove(force=True)
