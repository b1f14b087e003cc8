"""The gateway's own live stream (``/public/live.mp3``) for residents listening on a phone
or a PC: a stream device whose address is ``loa:live`` is played here instead of on an
Icecast server, through the same channel (paced at the bitrate, cut by emergencies,
interrupted items queued again). Between items listeners get silence, so players stay
connected; a listener too slow to keep up loses old chunks, never slows the others."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator

from gateway.loudspeakers import icecast

ADDRESS = "loa:live"
QUEUE_CHUNKS = 50  # five seconds of audio per listener


def _silence(bitrate: int) -> bytes:
    """One chunk of MP3 silence at the stream's format (empty without ffmpeg)."""
    if shutil.which("ffmpeg") is None:
        return b""
    command = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "1"]
    result = subprocess.run([*command, "-ac", "1", "-b:a", str(bitrate), "-f", "mp3", "-"], capture_output=True)
    data = bytes(result.stdout) if result.returncode == 0 else b""
    return data[: int(bitrate / 8 * icecast.CHUNK_S)]


class LiveHub:
    def __init__(self, bitrate: int = icecast.BITRATE) -> None:
        self.bitrate = bitrate
        self.listeners: set[asyncio.Queue[bytes]] = set()
        self.silence: bytes | None = None
        self.on_air = False

    async def play(self, data: bytes) -> float:
        """Send one item (MP3) to every listener, live; the seconds it took."""
        self.on_air = True
        try:
            return await icecast.paced(data, self._publish, self.bitrate)
        finally:
            self.on_air = False

    async def _publish(self, chunk: bytes) -> None:
        for queue in list(self.listeners):
            if queue.full():
                queue.get_nowait()  # this listener lags: it loses the oldest chunk
            queue.put_nowait(chunk)

    async def listen(self) -> AsyncIterator[bytes]:
        if self.silence is None:
            self.silence = await asyncio.to_thread(_silence, self.bitrate)
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
        self.listeners.add(queue)
        try:
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), icecast.CHUNK_S * 1.5)
                except TimeoutError:
                    if not self.on_air and self.silence:
                        yield self.silence
        finally:
            self.listeners.discard(queue)
