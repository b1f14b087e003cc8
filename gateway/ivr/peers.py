"""Who may open a FastAGI session: the configured Asterisk hosts (addresses, networks
such as ``10.0.0.0/24``, or names resolved when the server starts), and, when a shared
secret is set, only sessions whose AGI URL carries it (``agi://loa:4573/hotline?secret=…``;
Asterisk sends the URL's path and query as ``agi_network_script``)."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import socket

log = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack listener sees ::ffff:10.0.0.2
    return address


def peer_address(session: object) -> str:
    """The address of the Asterisk on the other end of a FastAGI session ("" if unknown)."""
    writer = getattr(session, "writer", None)
    peer = writer.get_extra_info("peername") if writer is not None else None
    if not isinstance(peer, tuple) or not peer:
        return ""
    try:
        return str(_address(str(peer[0])))
    except ValueError:
        return ""


class Peers:
    """The FastAGI server's gate. ``hosts`` empty: any peer (tests and the benchmark)."""

    def __init__(self, hosts: tuple[str, ...] = (), secret: str = "") -> None:
        self.hosts = hosts
        self.secret = secret
        self.networks: list[Network] = []

    async def resolve(self) -> None:
        """Names to addresses, once, at start; a name that does not resolve admits nobody."""
        networks: list[Network] = []
        loop = asyncio.get_running_loop()
        for host in self.hosts:
            try:
                networks.append(ipaddress.ip_network(host, strict=False))
                continue
            except ValueError:
                pass
            try:
                infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError as exc:
                log.error("FastAGI: cannot resolve the Asterisk host %r (%s); it is refused", host, exc)
                continue
            for info in infos:
                networks.append(ipaddress.ip_network(_address(str(info[4][0]))))
        self.networks = networks

    def admits(self, peer: object) -> bool:
        if not self.hosts:
            return True
        if not isinstance(peer, tuple) or not peer:
            return False  # a Unix socket or an unknown transport: not an Asterisk host
        try:
            address = _address(str(peer[0]))
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def authentic(self, query: dict[str, str]) -> bool:
        if not self.secret:
            return True
        return hmac.compare_digest(query.get("secret", "").encode(), self.secret.encode())
