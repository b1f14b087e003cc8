"""Where RECORD FILE writes a caller's message, and how Loa gets it back.

- ``SharedRecordings`` (``asterisk_media = "shared"``): a directory both see at the same
  path; Loa reads the file and deletes it.
- ``AriRecordings`` (``"http"``): RECORD FILE writes into the Asterisk's own recording
  spool (``astspooldir/recording``, ``recordings_dir`` of its ``[[asterisk]]`` table), and
  Loa fetches the file with ARI, which every Asterisk 18-22 ships (res_ari_recordings,
  enabled in http.conf and ari.conf): ``GET /ari/recordings/stored/{name}/file`` with HTTP
  basic auth answers the file (``Content-Type: audio/wav``) or ``404 Recording not found``;
  ``DELETE /ari/recordings/stored/{name}`` then removes it. No shared filesystem, no custom
  module, no dialplan upload. The Asterisk is the one whose address opened the FastAGI
  session (or the only one with ARI).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx

from gateway.config import AsteriskServer

log = logging.getLogger(__name__)
ARI_TIMEOUT = 30.0


class RecordingLost(Exception):
    """The recording is on the Asterisk but could not be fetched (ARI down, refused)."""


class Recordings(Protocol):
    def target(self, stem: str, peer: str) -> str:
        """What RECORD FILE gets: the file's path on the Asterisk, without extension."""
        ...

    async def take(self, stem: str, fmt: str, peer: str) -> bytes | None:
        """The recording's bytes (None: nothing was written), removed where it was."""
        ...


class SharedRecordings:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def target(self, stem: str, peer: str) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        return str(self.directory / stem)

    async def take(self, stem: str, fmt: str, peer: str) -> bytes | None:
        path = self.directory / f"{stem}.{fmt}"
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        await asyncio.to_thread(path.unlink, True)
        return data


class AriRecordings:
    def __init__(self, servers: tuple[AsteriskServer, ...]) -> None:
        self.servers = tuple(s for s in servers if s.ari_url)
        self.addresses = {s.name: _addresses(s.host) for s in self.servers}  # resolved once, at build

    def _server(self, peer: str) -> AsteriskServer | None:
        for server in self.servers:
            if server.host == peer or peer in self.addresses[server.name]:
                return server
        return self.servers[0] if len(self.servers) == 1 else None

    def target(self, stem: str, peer: str) -> str:
        server = self._server(peer)
        directory = server.recordings_dir if server is not None else "/var/spool/asterisk/recording"
        return f"{directory.rstrip('/')}/{stem}"

    async def take(self, stem: str, fmt: str, peer: str) -> bytes | None:
        server = self._server(peer)
        if server is None:
            log.error("recording %s: no [[asterisk]] with ari_url has the address %s", stem, peer)
            return None
        base = f"{server.ari_url.rstrip('/')}/ari/recordings/stored/{quote(stem, safe='')}"
        auth = (server.ari_username, server.ari_password)
        try:
            async with httpx.AsyncClient(auth=auth, timeout=ARI_TIMEOUT) as client:
                reply = await client.get(f"{base}/file")
                if reply.status_code == 404:  # resource_recordings.c: "Recording not found"
                    return None
                if reply.status_code != 200:
                    raise RecordingLost(f"ari {server.name}: GET {reply.status_code} {reply.text[:120]}")
                gone = await client.delete(base)
                if gone.status_code not in (204, 404):
                    log.warning("ARI %s: DELETE %s answered %s", server.name, base, gone.status_code)
        except httpx.HTTPError as exc:
            raise RecordingLost(f"ari {server.name}: {exc!r}") from exc
        return reply.content


def _addresses(host: str) -> set[str]:
    try:
        return {str(ipaddress.ip_address(host))}
    except ValueError:
        pass
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except OSError:
        return set()
