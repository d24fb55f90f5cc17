"""Helpers for the daemon tests (no tests here): a daemon subprocess on its own store,
the real docker CLI pointed at it, raw HTTP requests over the unix socket."""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import pty
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class Daemon:
    """`dockyard daemon` as a subprocess on <base>/d.sock with the store <base>/store."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "store"
        self.socket = base / "d.sock"
        self.log = base / "daemon.log"
        self.docker_config = base / "docker-config"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def command(self, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "dockyard.cli.main",
            "--root",
            str(self.root),
            "daemon",
            "--host",
            self.host,
            "--log-level",
            "debug",
            *extra,
        ]

    def start(self) -> Daemon:
        self.base.mkdir(parents=True, exist_ok=True)
        self.docker_config.mkdir(exist_ok=True)
        log = open(self.log, "ab")
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=log, cwd=REPO, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited: {self.log.read_text()}")
            if self.socket.exists():
                try:
                    if self.request("GET", "/_ping")[0] == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"daemon did not start: {self.log.read_text()}")

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("DOCKER_CONTEXT", None)
        env.update(
            DOCKER_HOST=self.host,
            DOCKER_CONFIG=str(self.docker_config),
            DOCKYARD_ROOT=str(self.root),
        )
        env.update(extra)
        return env

    def docker(
        self,
        *args: str,
        stdin: bytes | None = None,
        check: bool = True,
        cwd: Path | None = None,
        timeout: float = 120,
    ) -> Result:
        process = subprocess.run(
            [DOCKER, *args],
            env=self.env(),
            input=stdin if stdin is not None else b"",
            capture_output=True,
            cwd=cwd or self.base,
            timeout=timeout,
        )
        result = Result(
            process.returncode,
            process.stdout.decode(errors="replace"),
            process.stderr.decode(errors="replace"),
        )
        if check and process.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {result}")
        return result

    def dockyard(self, *args: str, stdin: bytes | None = None) -> Result:
        process = subprocess.run(
            [sys.executable, "-m", "dockyard.cli.main", *args],
            env=self.env(),
            input=stdin,
            capture_output=True,
            cwd=REPO,
            timeout=300,
        )
        return Result(
            process.returncode,
            process.stdout.decode(errors="replace"),
            process.stderr.decode(errors="replace"),
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = UnixHTTPConnection(str(self.socket), timeout)
        data = body
        headers = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            return response.status, dict(response.getheaders()), payload
        finally:
            connection.close()

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, _headers, payload = self.request(method, path, body)
        assert status < 300, (status, payload)
        return json.loads(payload) if payload else None


def import_base_images(daemon: Daemon, busybox_tar: Path, debian_tar: Path | None = None) -> None:
    """busybox (and debian:bookworm) imported into the daemon's store with the dockyard CLI."""
    result = daemon.dockyard("import", "--change", 'CMD ["sh"]', str(busybox_tar), "busybox:latest")
    assert result.returncode == 0, result
    if debian_tar is not None:
        result = daemon.dockyard(
            "import", "--change", 'CMD ["bash"]', str(debian_tar), "debian:bookworm"
        )
        assert result.returncode == 0, result


def have_runtime() -> bool:
    return os.geteuid() == 0 and bool(shutil.which("crun") or shutil.which("runc"))


def have_docker_cli() -> bool:
    return os.path.exists(DOCKER)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_registry(storage: Path) -> Iterator[str]:
    """dockyard's registry serving ``storage`` on loopback; yields its host:port and
    stops it afterwards."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "dockyard.cli.main", "registry", "serve",
         "--addr", f"127.0.0.1:{port}", "--storage", str(storage)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(20)


def run_on_pty(
    argv: list[str],
    inputs: list[tuple[float | str, bytes]],
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    timeout: float = 20,
    size: tuple[int, int] = (24, 80),
) -> tuple[bytes, int]:
    """Run argv on a new pseudo-terminal. Each input is (wait, bytes): wait is seconds
    of reading first, or a string to read until it appears. Returns (output, exit code)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of a known size, then the command
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
            if cwd is not None:
                os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    output = b""
    deadline = time.monotonic() + timeout

    def read(until: float | str) -> bool:
        nonlocal output
        end = time.monotonic() + until if isinstance(until, (int, float)) else deadline
        while time.monotonic() < min(end, deadline):
            if isinstance(until, str) and until.encode() in output:
                return True
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    return False
                if not data:
                    return False
                output += data
        return isinstance(until, (int, float))

    for wait, data in inputs:
        if not read(wait):
            break
        os.write(fd, data)
    read(deadline - time.monotonic())
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return output, os.waitstatus_to_exitcode(status)
