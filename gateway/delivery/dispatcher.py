"""The worker loop: due schedules -> render -> ledger rows; channels claim, act, report;
finished bulletins are marked done or partly failed. Several processes may run it
against one database: schedules and rows are taken with guarded updates and leases.

Renders run as tasks of their own (the render lane, :mod:`tts.lanes`), never inside the
tick: a due schedule whose render is missing starts it and is looked at again when it
ends, so an emergency that becomes due while a 20-minute render runs starts its own
render, and is queued, at once."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.render import Renderer
from gateway.config import Settings
from gateway.delivery import stop
from gateway.delivery.backoff import RenderBackoff
from gateway.delivery.channel import Channel, Job
from gateway.delivery.channel_runs import ChannelRuns
from gateway.delivery.finishing import Finishing
from gateway.delivery.occurrences import Occurrences

log = logging.getLogger(__name__)


class Dispatcher(Occurrences, ChannelRuns, Finishing):
    """The loop and its state; the work is done by its parts: :mod:`.renders`,
    :mod:`.occurrences`, :mod:`.channel_runs`, :mod:`.finishing`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        renderer: Renderer,
        channels: dict[str, Channel],
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.renderer = renderer
        self.channels = channels
        self.worker = settings.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.wake = asyncio.Event()
        self.feeders: dict[str, asyncio.Task[None]] = {}
        self._jobs: dict[int, tuple[float, Job]] = {}
        self.stopped: set[int] = set()  # bulletins taken off the air: claimed rows of them are dropped
        self.render_backoff = RenderBackoff()
        self.renders: dict[int, asyncio.Task[bool]] = {}  # by bulletin id, running or not yet looked at

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        try:
            await self._loop(stop, interval)
        finally:
            await self.stop_feeders()
            await self.stop_renders()

    async def _loop(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                busy = await self.tick()
            except Exception:  # keep the loop alive; the ledger keeps the state
                log.exception("worker tick failed")
                busy = False
            if not busy:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout=interval)
                except TimeoutError:
                    pass

    async def tick(self) -> bool:
        await self.sweep()
        busy = await self.run_schedules()
        await self.expire_sent()
        await self.render_ahead()
        for channel in self.channels.values():
            if not getattr(channel, "ready", True):  # SMS without a bind slot: another worker sends
                continue
            if getattr(channel, "background", False):
                self._feed(channel)
            else:
                busy = await self.run_channel(channel) or busy
        await self.finish_bulletins()
        return busy

    async def sweep(self) -> None:
        """Stops committed by another process: see ``stop.sweep``."""
        self.stopped |= await stop.sweep(self.sessions, self.channels)
