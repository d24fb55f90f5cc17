"""Run the registry: listen on an address (HTTP, or HTTPS with a certificate)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import sys
from dataclasses import replace

from aiohttp import web
from aiohttp.log import access_logger

from dockyard.errors import InvalidArgument
from dockyard.registry.app import make_app
from dockyard.registry.config import RegistryConfig
from dockyard.registry.metadata_open import open_metadata
from dockyard.registry.storage import open_driver
from dockyard.registry.tuning import freeze_startup_objects, keep_buffers_in_heap


def parse_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidArgument(f"invalid address {addr!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def ssl_context(config: RegistryConfig) -> ssl.SSLContext | None:
    if not config.tls_cert and not config.tls_key:
        return None
    if not (config.tls_cert and config.tls_key):
        raise InvalidArgument("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as error:
        raise InvalidArgument(f"cannot load TLS certificate: {error}") from None
    return context


def _listen(config: RegistryConfig) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as error:
        sock.close()
        raise InvalidArgument(
            f"cannot listen on {config.host}:{config.port}: {error.strerror}"
        ) from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _run(config: RegistryConfig, sock: socket.socket, context, access_log: bool, announce) -> None:
    app = make_app(config)
    freeze_startup_objects()
    web.run_app(
        app,
        sock=sock,
        ssl_context=context,
        access_log=access_logger if access_log else None,
        print=announce,
        loop=asyncio.new_event_loop(),
    )


def _supervise(children: list[int]) -> int:
    """Wait for the worker processes; a signal to this process goes on to them."""

    def forward(signum: int, _frame) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    status = 0
    remaining = set(children)
    while remaining:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        if pid in remaining:
            remaining.discard(pid)
            if code and remaining:  # one worker died: stop the others too
                status = 1
                forward(signal.SIGTERM, None)
    return status


def serve(config: RegistryConfig, access_log: bool = False, workers: int = 1) -> int:
    """Serve until interrupted. ``workers`` > 1 forks processes sharing the listening
    socket (and the storage and the metadata database); the first one runs periodic gc."""

    if workers < 1:
        raise InvalidArgument("--workers must be at least 1")
    keep_buffers_in_heap()
    context = ssl_context(config)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    scheme = "https" if context else "http"
    open_metadata(config.metadata, config.storage).close()  # the schema, before any worker
    open_driver(config.storage, config.s3_keys).close()  # the bucket, and the credentials work
    sock = _listen(config)
    sys.stderr.write(
        f"registry listening on {scheme}://{config.host}:{config.port} "
        f"(storage {config.storage}{f', {workers} workers' if workers > 1 else ''})\n"
    )
    sys.stderr.flush()
    if workers == 1:
        _run(config, sock, context, access_log, None)
        return 0
    children = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                worker_config = config if index == 0 else replace(config, gc_interval=0.0)
                _run(worker_config, sock, context, access_log, None)
            except BaseException:  # noqa: BLE001 - a worker reports by its exit code
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    sock.close()
    return _supervise(children)
