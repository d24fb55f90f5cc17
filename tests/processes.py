"""What the tests' servers share: a free loopback port, waiting until something
listens on it, stopping a process the tests started (by its Popen, never by name), and
starting a dockyard registry process."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import BinaryIO

from dockyard.devtools.registryserve import registry_serve_command

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 20) -> None:
    """Return once 127.0.0.1:port accepts; RuntimeError when ``process`` exits first or
    nothing listens within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """``sig``, then SIGKILL after ``timeout`` seconds; nothing when it has exited."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_registry_process(
    port: int, storage: str, extra: tuple[str, ...], log: BinaryIO
) -> subprocess.Popen:
    """``dockyard registry serve`` on 127.0.0.1:port, its output to ``log``; waited for."""
    process = subprocess.Popen(
        registry_serve_command(f"127.0.0.1:{port}", "--storage", storage, *extra),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process)
    except RuntimeError:
        stop_process(process, signal.SIGINT)
        raise
    return process
