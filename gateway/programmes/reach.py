"""What import sources may reach on the server's side.

Feeds: an officer types a URL and the gateway fetches it, so a URL must not become a way
into the gateway's own network (SSRF). ``GuardedTransport`` resolves the host itself,
refuses loopback, private, link-local (cloud metadata at 169.254.169.254), shared and
reserved addresses unless ``fetch_allow`` lists the host or its network, and then connects
to the address it checked, not to a name resolved again (a DNS answer that changes between
the check and the connection, "DNS rebinding", gains nothing). Every redirect is a new
request through the same transport, so each hop is checked.

Folders: a ``folder`` source reads and moves server files, so only folders under the
configured ``import_roots`` are accepted, and links inside them are not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from pathlib import Path

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(httpx.HTTPError):
    """A fetch the gateway will not make; the message says why, in Vietnamese."""


def why_refused(ip: Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "địa chỉ nội bộ của chính máy chủ (loopback)"
    if ip.is_link_local:
        return "địa chỉ link-local (gồm địa chỉ metadata 169.254.169.254 của máy ảo)"
    if ip.is_private:
        return "địa chỉ mạng riêng (mạng nội bộ)"
    if not ip.is_global or ip.is_multicast:
        return "địa chỉ không công khai trên Internet"
    return None


class Allow:
    """``fetch_allow`` entries: host names, addresses or networks that feeds may reach."""

    def __init__(self, entries: tuple[str, ...] = ()) -> None:
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.lower().rstrip("."))

    def permits(self, host: str, ip: Address) -> bool:
        return host.lower().rstrip(".") in self.hosts or any(ip in network for network in self.networks)

    async def address(self, host: str, port: int) -> str:
        """The address to connect to, after checking every address the name resolves to."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise Refused(f"không tìm thấy máy chủ '{host}' ({exc.strerror or exc})") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise Refused(f"không tìm thấy máy chủ '{host}'")
        for ip in addresses:
            reason = why_refused(ip)
            if reason and not self.permits(host, ip):
                raise Refused(f"'{host}' trỏ tới {ip}: {reason}; thêm vào fetch_allow nếu đây là nguồn tin tin cậy")
        return str(addresses[0])


class GuardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, allow: Allow, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.allow = allow
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        address = await self.allow.address(host, request.url.port or (443 if request.url.scheme == "https" else 80))
        if address != host:
            # The Host header was set from the name; TLS checks the certificate against it too.
            request.url = request.url.copy_with(host=address)
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def client(allow: tuple[str, ...], timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The client every import source fetches with (blocking: it loads the CA bundle)."""
    headers = {"User-Agent": "Loa/0.1 (thong tin co so)"}
    transport = GuardedTransport(Allow(allow))
    # trust_env off: a proxy taken from the environment would bypass the transport's check.
    return httpx.AsyncClient(transport=transport, timeout=timeout, headers=headers, trust_env=False)


def folder_allowed(location: str, roots: tuple[Path, ...]) -> bool:
    """Whether ``location`` (links resolved) lies inside one of ``roots``."""
    folder = Path(location).resolve()
    return any(folder == root.resolve() or folder.is_relative_to(root.resolve()) for root in roots)
