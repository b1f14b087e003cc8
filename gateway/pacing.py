"""Even pacing of submissions: SMS parts, calls."""

from __future__ import annotations

import asyncio
import time


class Pacer:
    """At most ``rate`` submissions per second, evenly spaced (the contracted TPS).

    Slots are handed out in call order without a lock: each caller takes the next slot
    and sleeps until it, so concurrent submitters share the rate instead of bursting.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
