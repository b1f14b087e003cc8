"""The feeder: hands each RTP stream's packets to the clock process a second at a time.

One thread per sender. A stream's first :data:`~gateway.loudspeakers.rtp.LEAD_S` seconds go
at once; after that chunk ``k`` (packets ``50k`` to ``50k + 49``, played ``k`` seconds after
the start) is written ``LEAD_S`` seconds before it plays. The pipe to the clock so carries
about 8 KB per second per G.711 stream instead of a whole bulletin at the start, and the
event loop that starts a stream never writes to the pipe at all.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class _Stream(Protocol):
    id: int
    address: tuple[str, int]
    codec: str
    frames: int
    stopped: bool
    finished: threading.Event


@dataclass
class _Feed:
    stream: _Stream
    frames: list[bytes]
    next_chunk: int = 0
    started_at: float = 0.0


class Feeder:
    """``send(message, stream)`` writes one command to the clock and says whether it could
    (the stream may have been stopped, or the sender closed, meanwhile)."""

    def __init__(self, send: Callable[[tuple[Any, ...], _Stream], bool], chunk_frames: int, lead_s: float) -> None:
        self.send = send
        self.chunk_frames = chunk_frames
        self.lead_s = lead_s
        self._due: list[tuple[float, int, _Feed]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, stream: _Stream, frames: list[bytes]) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="loa-rtp-feed", daemon=True)
                self._thread.start()
            heapq.heappush(self._due, (time.monotonic(), next(self._order), _Feed(stream, frames)))
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._due or self._due[0][0] > time.monotonic()):
                    self._cond.wait(None if not self._due else self._due[0][0] - time.monotonic())
                if self._closed:
                    return
                _, _, feed = heapq.heappop(self._due)
            due = self._step(feed)
            if due is not None:
                with self._cond:
                    heapq.heappush(self._due, (due, next(self._order), feed))

    def _step(self, feed: _Feed) -> float | None:
        """Send what is due of one stream; when to come back to it (``None``: done)."""
        stream = feed.stream
        if stream.stopped or stream.finished.is_set():
            return None
        if feed.next_chunk == 0 and feed.started_at == 0.0:
            if not self.send(("start", stream.id, stream.address, stream.codec, stream.frames), stream):
                return None
            feed.started_at = time.monotonic()
        first = feed.next_chunk * self.chunk_frames
        if first >= len(feed.frames):
            return None
        chunk = feed.frames[first : first + self.chunk_frames]
        if not self.send(("feed", stream.id, chunk), stream):
            return None
        feed.next_chunk += 1
        if feed.next_chunk * self.chunk_frames >= len(feed.frames):
            return None
        chunk_s = self.chunk_frames * 0.02
        return feed.started_at + feed.next_chunk * chunk_s - self.lead_s
