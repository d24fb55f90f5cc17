"""Run the registry: listen on an address (HTTP, or HTTPS with a certificate)."""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys

from aiohttp import web
from aiohttp.log import access_logger

from dockyard.errors import InvalidArgument
from dockyard.registry.app import make_app
from dockyard.registry.config import RegistryConfig


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


def serve(config: RegistryConfig, access_log: bool = False) -> None:
    from dockyard.registry.tuning import keep_buffers_in_heap

    keep_buffers_in_heap()
    context = ssl_context(config)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    app = make_app(config)
    scheme = "https" if context else "http"

    def announce(_text: str) -> None:
        sys.stderr.write(
            f"registry listening on {scheme}://{config.host}:{config.port} "
            f"(storage {config.storage})\n"
        )
        sys.stderr.flush()

    web.run_app(
        app,
        host=config.host,
        port=config.port,
        ssl_context=context,
        access_log=access_logger if access_log else None,
        print=announce,
        loop=asyncio.new_event_loop(),
    )
