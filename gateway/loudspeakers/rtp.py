"""RTP to LAN PA speakers (RFC 3550; payload types of RFC 3551): G.711 μ-law (PT 0),
A-law (PT 8) and G.722 (PT 9, whose RTP clock is 8000 although it carries 16 kHz audio),
in 20 ms packets paced by one clock for every stream, unicast or multicast.

ffmpeg's own RTP output sends ~93 ms packets in bursts, which small jitter buffers in IP
speakers drop; here each packet leaves at t0 + n x 20 ms on a monotonic clock, so pacing
does not drift, and the clock's lateness is measured per packet.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import soxr

from tts.audio.g711 import encode_alaw, encode_ulaw

PAYLOAD_TYPES = {"pcmu": 0, "pcma": 8, "g722": 9}
CODEC_RATES = {"pcmu": 8000, "pcma": 8000, "g722": 16000}
SILENCE = {"pcmu": 0xFF, "pcma": 0xD5, "g722": 0x00}
FRAME_S = 0.02
PAYLOAD_BYTES = 160  # 20 ms of G.711 (8000 x 1 byte) or of G.722 (64 kbit/s)
TIMESTAMP_STEP = 160  # 20 ms at the 8 kHz RTP clock, for all three (RFC 3551 §4.5.2 for G.722)


def encode(samples: np.ndarray, rate: int, codec: str) -> bytes:
    """Mono float32 at ``rate`` -> the codec's byte stream."""
    target = CODEC_RATES[codec]
    resampled = samples if rate == target else soxr.resample(samples, rate, target, quality="VHQ")
    pcm = (np.clip(resampled, -1, 1) * 32767).astype(np.int16)
    if codec == "pcmu":
        return encode_ulaw(pcm)
    if codec == "pcma":
        return encode_alaw(pcm)
    command = "ffmpeg -v error -f s16le -ar 16000 -ac 1 -i - -c:a g722 -f g722 -".split()
    result = subprocess.run(  # G.722 by ffmpeg's encoder (the ITU-T reference algorithm)
        command,
        input=pcm.tobytes(),
        capture_output=True,
        check=True,
    )
    return bytes(result.stdout)


def payloads(data: bytes, codec: str) -> list[bytes]:
    pad = (-len(data)) % PAYLOAD_BYTES
    data += bytes([SILENCE[codec]]) * pad
    return [data[i : i + PAYLOAD_BYTES] for i in range(0, len(data), PAYLOAD_BYTES)]


def header(sequence: int, timestamp: int, ssrc: int, payload_type: int, marker: bool) -> bytes:
    """RFC 3550 §5.1: V=2, no padding, no extension, no CSRC."""
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | payload_type, sequence, timestamp, ssrc)


@dataclass
class Stream:
    address: tuple[str, int]
    codec: str
    frames: list[bytes]
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    sequence: int = field(default_factory=lambda: random.getrandbits(16))
    timestamp: int = field(default_factory=lambda: random.getrandbits(32))
    sent: int = 0
    lateness: list[float] = field(default_factory=list)  # seconds after the ideal send time
    stopped: bool = False
    finished: threading.Event = field(default_factory=threading.Event)

    def next_packet(self) -> bytes:
        packet = header(self.sequence, self.timestamp, self.ssrc, PAYLOAD_TYPES[self.codec], self.sent == 0)
        packet += self.frames[self.sent]
        self.sent += 1
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + TIMESTAMP_STEP) & 0xFFFFFFFF
        return packet


class RtpSender:
    """One 20 ms clock on its own thread (sleep, then spin the last 1.5 ms: the event loop's
    timers are a few ms late under load, a speaker's jitter buffer is not that patient);
    every active stream sends one packet per tick. The event loop only waits for ends."""

    SPIN_S = 0.0015

    def __init__(self, multicast_ttl: int = 4) -> None:
        self.multicast_ttl = multicast_ttl
        self._sock: socket.socket | None = None
        self.streams: list[Stream] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, host: str, port: int, codec: str, data: bytes) -> Stream:
        """Begin sending ``data`` (codec bytes) as one stream at the next tick."""
        stream = Stream((host, port), codec, payloads(data, codec))
        with self._lock:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.multicast_ttl)
            self.streams.append(stream)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="rtp-clock", daemon=True)
                self._thread.start()
        return stream

    async def wait(self, stream: Stream) -> Stream:
        """Until the stream ended or was stopped (off the event loop)."""
        await asyncio.to_thread(stream.finished.wait)
        return stream

    async def play(self, host: str, port: int, codec: str, data: bytes) -> Stream:
        return await self.wait(self.start(host, port, codec, data))

    def stop(self, stream: Stream) -> None:
        stream.stopped = True

    def _run(self) -> None:
        sock = self._sock  # made by start() before this thread
        if sock is None:
            return
        start, tick = time.monotonic(), 0
        while True:
            with self._lock:
                active = list(self.streams)
                if not active:
                    self._thread = None
                    return
            due = start + tick * FRAME_S
            delay = due - time.monotonic()
            if delay > self.SPIN_S:
                time.sleep(delay - self.SPIN_S)
            while time.monotonic() < due:
                pass
            late = time.monotonic() - due
            for stream in active:
                if stream.stopped or stream.sent >= len(stream.frames):
                    with self._lock:
                        self.streams.remove(stream)
                    stream.finished.set()
                    continue
                try:
                    sock.sendto(stream.next_packet(), stream.address)
                except OSError:  # an unreachable host: the packet is lost, the clock goes on
                    pass
                stream.lateness.append(late)
            tick += 1

    def close(self) -> None:
        with self._lock:
            for stream in self.streams:
                stream.stopped = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout=1)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
