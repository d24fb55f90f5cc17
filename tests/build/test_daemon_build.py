"""`POST /build` through `dockyard daemon`: the real docker CLI's legacy builder and
docker-py's images.build."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.build.corpus_support import REFERENCE, build_flags, mask_output, prepare_context
from tests.containers.support import NEEDS_RUNTIME

pytestmark = [
    NEEDS_RUNTIME,
    pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI"),
]


@pytest.fixture(scope="module")
def daemon_socket(build_store: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    socket = tmp_path_factory.mktemp("daemon") / "d.sock"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dockyard.cli.main",
            "daemon",
            "-H",
            f"unix://{socket}",
            "-l",
            "error",
        ],
        env=dict(os.environ, DOCKYARD_ROOT=str(build_store)),
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield socket
    process.terminate()
    process.wait(30)


def test_docker_cli_legacy_builder(daemon_socket: Path, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("via the daemon\n")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY f /f\nRUN cat /f\n")
    env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_HOST=f"unix://{daemon_socket}")
    result = subprocess.run(
        ["docker", "build", "-t", "daemon-built", str(tmp_path)], env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "via the daemon\n" in result.stdout
    assert "Successfully tagged daemon-built:latest" in result.stdout
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN exit 4\n")
    failed = subprocess.run(["docker", "build", str(tmp_path)], env=env, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert failed.returncode == 4
    assert "The command '/bin/sh -c exit 4' returned a non-zero code: 4" in failed.stderr


def test_docker_py_images_build(daemon_socket: Path) -> None:
    docker = pytest.importorskip("docker")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = b"FROM busybox\nENV BY=docker-py\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    raw.seek(0)
    client = docker.DockerClient(base_url=f"unix://{daemon_socket}")
    image, logs = client.images.build(fileobj=raw, custom_context=True, tag="py-built")
    assert "BY=docker-py" in image.attrs["Config"]["Env"]
    assert any("Successfully built" in entry.get("stream", "") for entry in logs)


@pytest.mark.parametrize("name", ["04-env-forms", "20-onbuild", "22-copy-file", "e02-run-fails"])
def test_docker_cli_prints_what_docker_printed(
    daemon_socket: Path, tmp_path: Path, name: str
) -> None:
    """The docker CLI's legacy builder through dockyard's daemon prints what it printed
    against Docker 20.10 (tests/build/reference), IDs masked."""
    expected = json.loads((REFERENCE / f"{name}.json").read_text())
    context = prepare_context(name, tmp_path / "context")
    env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_HOST=f"unix://{daemon_socket}")
    result = subprocess.run(
        ["docker", "build", "-t", f"corpus:{name}", *build_flags(name), str(context)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == expected["exit_code"]
    assert mask_output(result.stdout) == expected["stdout"]
    # docker 28's client adds a deprecation notice on stderr; the error line is Docker's
    wanted = expected["stderr"].splitlines()
    if wanted:
        assert mask_output(result.stderr.rstrip().splitlines()[-1]) == wanted[-1]


def test_docker_cli_without_buildx_falls_back_to_the_legacy_builder(
    daemon_socket: Path, tmp_path: Path
) -> None:
    if subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode == 0:
        pytest.skip("this docker CLI has buildx: it would not fall back")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo fell back\n")
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_BUILDKIT"}
    env["DOCKER_HOST"] = f"unix://{daemon_socket}"
    result = subprocess.run(["docker", "build", str(tmp_path)], env=env, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "fell back\n" in result.stdout and "Successfully built" in result.stdout
