"""RTP to LAN PA speakers (RFC 3550; payload types of RFC 3551): G.711 μ-law (PT 0),
A-law (PT 8), G.722 (PT 9, whose RTP clock is 8000 although it carries 16 kHz audio) and
Opus (RFC 7587: dynamic PT 111, ``a=rtpmap:111 opus/48000/2``, 48 kHz clock), in 20 ms
packets paced by one clock for every stream, unicast or multicast.

ffmpeg's own RTP output sends ~93 ms packets in bursts, which small jitter buffers in IP
speakers drop; here each packet leaves at t0 + n x 20 ms on a monotonic clock, so pacing
does not drift, and the clock's lateness is measured per packet. The clock runs in a
process of its own: in the gateway's process any busy Python thread could hold it up by
the interpreter's switch interval (5 ms).

Audio reaches the clock in chunks of one second (:data:`CHUNK_FRAMES` packets), written by a
feeder thread of the parent :data:`LEAD_S` seconds ahead of playback: starting a
20-minute stream neither pickles 10 MB through the pipe from the event loop nor makes the
clock read it between two packets, so the streams already on the air do not stall. The
clock reads its commands only while the next tick is not due.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from gateway.loudspeakers import opus
from gateway.loudspeakers.rtp_feed import Feeder
from tts.audio import effects
from tts.audio.g711 import encode_alaw, encode_ulaw

PAYLOAD_TYPES = {"pcmu": 0, "pcma": 8, "g722": 9, "opus": 111}
CODEC_RATES = {"pcmu": 8000, "pcma": 8000, "g722": 16000, "opus": opus.RATE}
SILENCE = {"pcmu": 0xFF, "pcma": 0xD5, "g722": 0x00}
FRAME_S = 0.02
PAYLOAD_BYTES = 160  # 20 ms of G.711 (8000 x 1 byte) or of G.722 (64 kbit/s)
# 20 ms on each codec's RTP clock: 8 kHz for G.711 and G.722 (RFC 3551 §4.5.2), 48 kHz for Opus.
TIMESTAMP_STEPS = {"pcmu": 160, "pcma": 160, "g722": 160, "opus": opus.FRAME_SAMPLES}
SPIN_S = 0.002  # the OS wakes a sleeper up to a few hundred microseconds late: spin the rest
CHUNK_FRAMES = 50  # one second of 20 ms packets per message to the clock
LEAD_S = 3.0  # how far ahead of playback the feeder keeps each stream


def encode(samples: np.ndarray, rate: int, codec: str) -> list[bytes]:
    """Mono float32 at ``rate`` -> the codec's 20 ms RTP payloads."""
    resampled = effects.resample(samples, rate, CODEC_RATES[codec], quality="VHQ")
    pcm = (np.clip(resampled, -1, 1) * 32767).astype(np.int16)
    if codec == "opus":
        return opus.opus_frames(pcm)
    return payloads(_encode_fixed(pcm, codec), codec)


def _encode_fixed(pcm: np.ndarray, codec: str) -> bytes:
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
    """A stream as the parent process sees it; the packets leave from the clock process."""

    id: int
    address: tuple[str, int]
    codec: str
    frames: int
    sent: int = 0
    ssrc: int = 0
    late_max: float = 0.0  # seconds after the ideal send time, worst packet
    late_p99: float = 0.0
    priority: str = ""  # what the clock process was granted: "realtime", "nice -20" or "normal"
    stopped: bool = False
    underruns: int = 0  # ticks at which the clock had no audio of this stream yet
    finished: threading.Event = field(default_factory=threading.Event)
    on_clock: bool = False  # the clock was told to start it (by the feeder)


def _raise_priority() -> str:
    """Real-time priority where allowed (root or CAP_SYS_NICE), else the highest nice value.
    At normal priority, two busy processes on a 2-core machine hold the clock up by the
    scheduler's time slice (measured: packets up to 8 ms late; at nice -20, under 2 ms)."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        return "realtime"
    for nice in (-20, -10, -5):
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, 0, nice)
            return f"nice {nice}"
    return "normal"


def _clock(conn: Connection, out: Connection, multicast_ttl: int) -> None:
    """The 20 ms clock, alone in its own process: no other Python thread can hold it up.
    Sleeps to ``SPIN_S`` before each tick, then spins; every active stream sends one packet."""
    priority = _raise_priority()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, multicast_ttl)
    streams: dict[int, dict[str, Any]] = {}
    start, tick = time.monotonic(), 0
    while True:
        while conn.poll(0 if streams else None):
            message = conn.recv()
            if message[0] == "feed":
                if message[1] in streams:
                    streams[message[1]]["frames"].extend(message[2])
            elif message[0] == "start":
                _, sid, address, codec, total = message
                streams[sid] = {
                    "address": address,
                    "pt": PAYLOAD_TYPES[codec],
                    "step": TIMESTAMP_STEPS[codec],
                    "frames": deque(),
                    "total": total,
                    "underruns": 0,
                    "ssrc": random.getrandbits(32),
                    "seq": random.getrandbits(16),
                    "ts": random.getrandbits(32),
                    "sent": 0,
                    "late": [],
                }
                if len(streams) == 1:
                    start, tick = time.monotonic() + 0.002, 0
            elif message[0] == "stop" and message[1] in streams:
                _finish(out, message[1], streams.pop(message[1]), priority, stopped=True)
            elif message[0] == "quit":
                sock.close()
                return
            if streams and time.monotonic() >= start + tick * FRAME_S - SPIN_S:
                break  # the next packets are due: the rest of the commands wait a tick
        due = start + tick * FRAME_S
        delay = due - time.monotonic()
        if delay > SPIN_S:
            time.sleep(delay - SPIN_S)
        while time.monotonic() < due:
            pass
        late = time.monotonic() - due
        for sid, st in list(streams.items()):
            if st["sent"] >= st["total"]:
                _finish(out, sid, streams.pop(sid), priority, stopped=False)
                continue
            if not st["frames"]:  # the feeder is behind: this packet leaves at a later tick
                st["underruns"] += 1
                continue
            packet = header(st["seq"], st["ts"], st["ssrc"], st["pt"], st["sent"] == 0) + st["frames"].popleft()
            with contextlib.suppress(OSError):  # an unreachable host loses the packet, not the clock
                sock.sendto(packet, st["address"])
            st["sent"] += 1
            st["seq"] = (st["seq"] + 1) & 0xFFFF
            st["ts"] = (st["ts"] + st["step"]) & 0xFFFFFFFF
            st["late"].append(late)
        tick += 1


def _finish(conn: Connection, sid: int, st: dict[str, Any], priority: str, stopped: bool) -> None:
    late = sorted(st["late"]) or [0.0]
    p99 = late[int(0.99 * (len(late) - 1))]
    conn.send(("done", sid, st["sent"], late[-1], p99, st["ssrc"], priority, stopped, st["underruns"]))


class RtpSender:
    """Streams to speakers through one clock process (started on first use)."""

    def __init__(self, multicast_ttl: int = 4) -> None:
        self.multicast_ttl = multicast_ttl
        self.streams: dict[int, Stream] = {}
        self._conn: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._ids = 0
        self._feeder = Feeder(self._send, CHUNK_FRAMES, LEAD_S)

    @property
    def clock_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _send(self, message: tuple[Any, ...], stream: Any) -> bool:
        """For the feeder: one command to the clock, unless the stream was stopped meanwhile."""
        with self._lock:
            if self._conn is None or stream.stopped or stream.finished.is_set():
                return False
            self._conn.send(message)
            if message[0] == "start":
                stream.on_clock = True
            return True

    def _ensure(self) -> Connection:
        if self._conn is None:
            command = [sys.executable, "-m", "gateway.loudspeakers.rtp", str(self.multicast_ttl)]
            self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert self._process.stdin is not None and self._process.stdout is not None  # PIPE asked for
            self._conn = Connection(os.dup(self._process.stdin.fileno()), readable=False)
            replies = Connection(os.dup(self._process.stdout.fileno()), writable=False)
            self._process.stdin.close()
            self._process.stdout.close()
            self._reader = threading.Thread(target=self._read, args=(replies,), daemon=True)
            self._reader.start()
        return self._conn

    def _read(self, conn: Connection) -> None:
        while True:
            try:
                _, sid, sent, late_max, late_p99, ssrc, priority, stopped, underruns = conn.recv()
            except (EOFError, OSError):
                return
            stream = self.streams.pop(sid, None)
            if stream is not None:
                stream.sent, stream.late_max, stream.late_p99 = sent, late_max, late_p99
                stream.ssrc, stream.priority, stream.stopped = ssrc, priority, stopped
                stream.underruns = underruns
                stream.finished.set()

    def start(self, host: str, port: int, codec: str, frames: list[bytes]) -> Stream:
        """Begin sending ``frames`` (20 ms payloads, from ``encode``) as one stream: the
        feeder hands them to the clock; this call never writes to the pipe."""
        with self._start_lock:  # not the pipe's lock, which the feeder holds while the pipe is full
            if self._conn is None:
                with self._lock:
                    self._ensure()
            self._ids += 1
            stream = Stream(self._ids, (host, port), codec, len(frames))
            self.streams[stream.id] = stream
        self._feeder.add(stream, frames)
        return stream

    async def wait(self, stream: Stream) -> Stream:
        """Until the stream ended or was stopped (off the event loop)."""
        await asyncio.to_thread(stream.finished.wait)
        return stream

    async def play(self, host: str, port: int, codec: str, frames: list[bytes]) -> Stream:
        return await self.wait(self.start(host, port, codec, frames))

    def stop(self, stream: Stream) -> None:
        with self._lock:
            if stream.finished.is_set():
                return
            if stream.on_clock and self._conn is not None:
                self._conn.send(("stop", stream.id))
            else:  # the feeder has not started it: it never will
                stream.stopped = True
                self.streams.pop(stream.id, None)
                stream.finished.set()

    def close(self) -> None:
        self._feeder.close()
        with self._lock:
            conn, process = self._conn, self._process
            self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(("quit",))
            conn.close()
            if process is not None:
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for stream in list(self.streams.values()):
            stream.stopped = True
            stream.finished.set()


if __name__ == "__main__":  # the clock process: commands on stdin, results on stdout
    _clock(Connection(0, writable=False), Connection(1, readable=False), int(sys.argv[1]))
