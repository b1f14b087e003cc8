"""The feedback worker: files spooled recordings, then feeds the transcription queue.
Runs beside the delivery dispatcher in worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.feedback.intake import Spool
from gateway.feedback.transcription import TranscriptionQueue

log = logging.getLogger(__name__)


class FeedbackWorker:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], spool: Spool, queue: TranscriptionQueue) -> None:
        self.sessions = sessions
        self.spool = spool
        self.queue = queue
        self.wake = asyncio.Event()

    async def tick(self) -> bool:
        filed = await self.spool.file_all(self.sessions)
        return await self.queue.tick() or bool(filed)

    async def run(self, stop: asyncio.Event, interval: float = 2.0) -> None:
        while not stop.is_set():
            try:
                busy = await self.tick()
            except Exception:  # the spool and the database keep the state; try again
                log.exception("feedback worker tick failed")
                busy = False
            if not busy:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=interval)
