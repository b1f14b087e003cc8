"""Icecast source client: a bulletin as a live MP3 stream on an Icecast2 mount, for stream
receivers and for residents listening on the web.

Icecast 2.4 takes a source as ``PUT /<mount>`` with Basic auth (``source:<password>``) and
the audio as the request body, kept open for as long as the stream lasts; it does not
read chunked bodies, so the request is written by hand and the body sent raw, paced at the
stream's bitrate (Icecast drops a source that sends nothing for ``source-timeout``, and a
source that sends too fast fills its listeners' buffers instead of playing live).
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

BITRATE = 64_000  # bits per second: speech at 22.05 kHz mono is clear at 64 kbit/s
CHUNK_S = 0.1


class IcecastError(Exception):
    pass


@dataclass(frozen=True)
class IcecastMount:
    url: str  # http://host:8000/loa.mp3
    password: str
    name: str = "Loa"
    description: str = "Đài truyền thanh cơ sở"


def to_mp3(path: Path, bitrate: int = BITRATE) -> bytes:
    command = ["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", "22050", "-b:a", str(bitrate)]
    result = subprocess.run([*command, "-f", "mp3", "-"], capture_output=True, check=True)
    return bytes(result.stdout)


async def paced(data: bytes, send: Callable[[bytes], Awaitable[None]], bitrate: int = BITRATE) -> float:
    """Hand ``data`` (MP3) to ``send`` in ``CHUNK_S`` pieces at ``bitrate``, as a live
    source does; the seconds it took."""
    size = int(bitrate / 8 * CHUNK_S)
    start = time.monotonic()
    for n, offset in enumerate(range(0, len(data), size)):
        delay = start + n * CHUNK_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(data[offset : offset + size])
    return time.monotonic() - start


async def stream(mount: IcecastMount, data: bytes, bitrate: int = BITRATE) -> float:
    """Send ``data`` (MP3) to the mount at ``bitrate``; the seconds it took."""
    parts = urlsplit(mount.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 8000
    auth = base64.b64encode(f"source:{mount.password}".encode()).decode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = (
            f"PUT {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: audio/mpeg\r\nIce-Public: 0\r\nIce-Name: {mount.name}\r\n"
            f"Ice-Description: {mount.description}\r\nIce-Audio-Info: bitrate={bitrate // 1000}\r\n"
            "Expect: 100-continue\r\n\r\n"
        )
        writer.write(head.encode("utf-8"))
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status = answer.split(b" ", 2)[1]
        if status not in (b"100", b"200"):
            raise IcecastError(f"Icecast từ chối nguồn phát: {answer.splitlines()[0].decode(errors='replace')}")

        async def send(chunk: bytes) -> None:
            writer.write(chunk)
            await writer.drain()

        return await paced(data, send, bitrate)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
