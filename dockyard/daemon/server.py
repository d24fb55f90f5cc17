"""Run the daemon: lock the store, listen, serve until SIGINT/SIGTERM, clean up."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from dockyard.daemon import workers
from dockyard.daemon.app import create_app
from dockyard.daemon.listeners import Host, parse_host, tcp_listener, unix_listener
from dockyard.daemon.lock import DaemonLock
from dockyard.daemon.spawner import Spawner
from dockyard.store import Store

log = logging.getLogger("dockyard.daemon")


async def serve(
    root: Path, hosts: list[Host], spawner: Any, stop: asyncio.Event | None = None
) -> None:
    loop = asyncio.get_running_loop()
    executor = workers.configure(root)
    loop.set_default_executor(executor)
    app = create_app()
    app["events"].bind(loop)
    app["hub"].bind(loop)
    app["hub"].spawner = spawner
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    sockets = []
    unix_paths: list[str] = []
    try:
        for host in hosts:
            if host.scheme == "unix":
                sock = unix_listener(host.path)
                unix_paths.append(host.path)
            else:
                if host.address not in ("127.0.0.1", "::1", "localhost"):
                    log.warning("listening on %s without TLS or authentication", host)
                sock = tcp_listener(host.address, host.port)
            sockets.append(sock)
            await web.SockSite(runner, sock).start()
            log.warning(
                "API listen on %s", host if host.scheme == "unix" or host.port else _bound(sock)
            )
        stop = stop or asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.warning("shutting down")
    finally:
        for path in unix_paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        app["events"].close()
        await app["hub"].close()
        log.debug("sessions closed")
        await runner.cleanup()
        log.debug("server closed")
        workers.shutdown()


def _bound(sock) -> str:  # type: ignore[no-untyped-def]
    address = sock.getsockname()
    return f"tcp://{address[0]}:{address[1]}"


def run(root: str | Path, host_texts: list[str], log_level: str = "info") -> int:
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    root = Path(root).absolute()
    hosts = [parse_host(text) for text in host_texts]
    Store.open(root).close()  # creates the layout
    lock = DaemonLock(root)
    lock.acquire()
    spawner = None
    try:
        spawner = Spawner.fork()  # before any thread or database connection exists
        asyncio.run(serve(root, hosts, spawner))
        log.debug("event loop closed")
    finally:
        if spawner is not None:
            spawner.close()
        lock.release()
        log.debug("stopped")
    return 0
