"""The Asterisk servers a campaign dials through: each with its manager connection, its
budget of simultaneous calls, a back-off after congestion, and the watches that turn
Hangup events into call outcomes (matched by Uniqueid, which is the ChannelId we give
the Originate)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from gateway.telephony.ami import AmiClient, AmiDisconnected, AmiEvent, ServerConfig, header_int

REFUSAL_STREAK = 5  # this many causes 1/21 in a row, nothing reaching a phone between: the trunk refuses
ENDED_KEPT = 5000  # Hangup events remembered: a worker taking a call over knows it is gone


@dataclass(frozen=True)
class HangupInfo:
    cause: int | None
    text: str
    tech_cause: int | None = None  # TechCause: the SIP code (Asterisk 20/22 since October 2025)


def hangup_info(event: AmiEvent) -> HangupInfo:
    """The Cause of a Hangup event (None when Asterisk sent no number)."""
    return HangupInfo(header_int(event.get("cause")), event.get("cause-txt"), header_int(event.get("techcause")))


@dataclass
class Trunk:
    client: AmiClient
    in_use: int = 0
    backoff_until: float = 0.0
    watches: dict[str, asyncio.Future[HangupInfo]] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)  # watched channels Asterisk announced (Newchannel)
    refusals: int = 0  # causes 1/21 in a row
    problem: str = ""  # what the operator must fix (a refused Originate, a trunk refusing every call)
    ended: dict[str, None] = field(default_factory=dict)  # channels whose Hangup this process saw, oldest first

    def __post_init__(self) -> None:
        self.client.listeners.append(self._event)
        self.client.lost_listeners.append(self._lost)

    @property
    def name(self) -> str:
        return self.client.config.name

    @property
    def capacity(self) -> int:
        return self.client.config.channels

    def usable(self) -> bool:
        return self.client.ready and self.in_use < self.capacity and time.monotonic() >= self.backoff_until

    def back_off(self, seconds: float) -> None:
        self.backoff_until = max(self.backoff_until, time.monotonic() + seconds)

    def watch(self, channel_id: str) -> asyncio.Future[HangupInfo]:
        future: asyncio.Future[HangupInfo] = asyncio.get_running_loop().create_future()
        self.watches[channel_id] = future
        return future

    def unwatch(self, channel_id: str) -> None:
        self.created.discard(channel_id)
        future = self.watches.pop(channel_id, None)
        if future is not None and not future.done():
            future.cancel()

    def reached_a_phone(self) -> None:
        """A call was answered, busy or rang: the trunk works."""
        self.refusals = 0
        self.problem = ""

    def refused(self) -> bool:
        """Another cause 1/21; True once the trunk seems to refuse every number."""
        self.refusals += 1
        return self.refusals >= REFUSAL_STREAK

    def _event(self, event: AmiEvent) -> None:
        uniqueid = event.get("uniqueid")
        if event.name == "Newchannel" and uniqueid in self.watches:
            self.created.add(uniqueid)
        if event.name != "Hangup":
            return
        if uniqueid:
            self.ended[uniqueid] = None
            if len(self.ended) > ENDED_KEPT:
                del self.ended[next(iter(self.ended))]
        future = self.watches.get(uniqueid)
        if future is not None and not future.done():
            future.set_result(hangup_info(event))

    def _lost(self) -> None:
        for future in self.watches.values():
            if not future.done():
                future.set_exception(AmiDisconnected("Hangup", True))


class TrunkPool:
    """Picks the least loaded usable trunk; waits while none is."""

    def __init__(self, configs: list[ServerConfig]) -> None:
        self.trunks = [Trunk(AmiClient(config)) for config in configs]
        self.changed = asyncio.Condition()

    @property
    def capacity(self) -> int:
        return sum(t.capacity for t in self.trunks)

    async def start(self) -> None:
        for trunk in self.trunks:
            await trunk.client.start()

    async def close(self) -> None:
        for trunk in self.trunks:
            await trunk.client.close()

    async def acquire(self, wait: float) -> Trunk | None:
        """A trunk with a free channel, or None after ``wait`` seconds without one."""
        deadline = time.monotonic() + wait
        async with self.changed:
            while True:
                usable = [t for t in self.trunks if t.usable()]
                if usable:
                    trunk = min(usable, key=lambda t: t.in_use / t.capacity)
                    trunk.in_use += 1
                    return trunk
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                try:  # woken by a release; re-checked at least every second (logins, back-offs)
                    await asyncio.wait_for(self.changed.wait(), min(left, 1.0))
                except TimeoutError:
                    pass

    async def release(self, trunk: Trunk) -> None:
        async with self.changed:
            trunk.in_use -= 1
            self.changed.notify_all()

    def status(self) -> list[dict[str, object]]:
        now = time.monotonic()
        return [
            {
                "name": t.name,
                "connected": t.client.ready,
                "calls": t.in_use,
                "channels": t.capacity,
                "backoff_seconds": max(0.0, round(t.backoff_until - now, 1)),
                "error": t.client.last_error,
                "problem": t.problem,
            }
            for t in self.trunks
        ]
