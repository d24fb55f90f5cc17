"""A dockyard registry process on a free loopback port, seeded with small images."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .artifacts import ArchiveImage, docker_archive, random_tree
from .harness import REPO, dockyard_argv, env_for

SEED_IMAGES = [
    ArchiveImage([random_tree(300, files=20, top="r0"), random_tree(301, files=20, top="r1")]),
    ArchiveImage([random_tree(300, files=20, top="r0"), random_tree(302, files=20, top="r2")]),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RegistryProcess:
    storage: Path
    port: int
    process: subprocess.Popen

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def start_registry(
    storage: Path, *extra: str, port: int | None = None, env: dict[str, str] | None = None
) -> RegistryProcess:
    storage.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = open(storage.parent / f"registry-{port}.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        dockyard_argv(
            "registry",
            "serve",
            "--addr",
            f"127.0.0.1:{port}",
            "--storage",
            str(storage),
            "--access-log",
            *extra,
        ),
        cwd=REPO,
        env=env or env_for(storage.parent / "unused-store"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"registry exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return RegistryProcess(storage, port, process)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("registry did not start")


def skopeo_push(archive: Path, target: str, creds: str | None = None) -> None:
    command = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
    if creds:
        command.append(f"--dest-creds={creds}")
    result = subprocess.run(
        [*command, f"docker-archive:{archive}", f"docker://{target}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"skopeo copy to {target}: {result.stderr.strip()[-500:]}")


def seeded_registry(storage: Path, *extra: str) -> RegistryProcess:
    """A registry holding lib/img0:1 and lib/img1:1 (two layers each, one shared)."""
    registry = start_registry(storage, *extra)
    for k, image in enumerate(SEED_IMAGES):
        archive = storage.parent / f"seed{k}.tar"
        archive.write_bytes(docker_archive([image]))
        skopeo_push(archive, f"{registry.host}/lib/img{k}:1")
    return registry
