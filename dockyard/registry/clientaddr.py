"""The address of the client behind a request, through trusted load balancers.

Behind a load balancer every connection comes from the balancer, so limits kept per
client address (failed sign-ins) would treat all clients as one. A balancer named in
``trusted-proxies`` appends the address it saw to ``X-Forwarded-For``; the client is the
right-most address in that chain that is not itself a trusted proxy (the ones to its
left were written by whoever connected, and may be forged).
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from dockyard.errors import InvalidArgument

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(spec: str) -> tuple[Network, ...]:
    """Comma-separated addresses or networks (``10.0.0.0/8,127.0.0.1``)."""
    networks = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise InvalidArgument(
                f"invalid trusted proxy {item!r}: expected an address or network"
            ) from None
    return tuple(networks)


class ClientAddress:
    def __init__(self, trusted: str = "") -> None:
        self.trusted = parse_proxies(trusted)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def of(self, request: web.Request) -> str | None:
        peer = request.remote
        if not self.trusted or peer is None or not self._is_trusted(peer):
            return peer
        chain = [
            hop.strip()
            for header in request.headers.getall("X-Forwarded-For", [])
            for hop in header.split(",")
        ]
        client = peer
        for hop in reversed(chain):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # not an address: the chain cannot be followed further
            client = hop
            if not self._is_trusted(hop):
                break
        return client
