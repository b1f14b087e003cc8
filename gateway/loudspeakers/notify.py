"""Wakes the devices that long-poll their schedule when a loudspeaker item is queued."""

from __future__ import annotations

import asyncio


class Notifier:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, seconds: float) -> None:
        """Until the next notify; TimeoutError after ``seconds``."""
        await asyncio.wait_for(self._event.wait(), seconds)
