"""Renders run as tasks of their own (the render lane, :mod:`tts.lanes`), never inside the
tick: a due schedule whose render is missing starts it and is looked at again when it
ends, so an emergency that becomes due while a 20-minute render runs starts its own
render, and is queued, at once. What is scheduled within ``RENDER_AHEAD`` is rendered
early, for the loudspeaker clusters."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.render import PURPOSES, Renderer
from gateway.db.models import Bulletin, Render, Schedule, utcnow
from gateway.db.states import BulletinStatus
from gateway.delivery.backoff import RenderBackoff

log = logging.getLogger("gateway.delivery.dispatcher")  # its name before the split: log filters use it
RENDER_AHEAD = timedelta(hours=6)


class Renders:
    """Part of :class:`~gateway.delivery.dispatcher.Dispatcher`, which sets these."""

    sessions: async_sessionmaker[AsyncSession]
    renderer: Renderer
    wake: asyncio.Event
    render_backoff: RenderBackoff
    renders: dict[int, asyncio.Task[bool]]  # by bulletin id, running or not yet looked at

    async def stop_renders(self) -> None:
        """Renders in progress are dropped; a later worker renders again (renders are idempotent)."""
        for task in self.renders.values():
            task.cancel()
        await asyncio.gather(*self.renders.values(), return_exceptions=True)
        self.renders.clear()

    async def settle_renders(self) -> bool:
        """Wait for the renders in progress (for callers that drive ``tick`` themselves);
        whether there were any."""
        running = [task for task in self.renders.values() if not task.done()]
        await asyncio.gather(*running, return_exceptions=True)
        return bool(running)

    async def render_ahead(self) -> None:
        """Render what is scheduled within ``RENDER_AHEAD`` now, so loudspeaker clusters can
        download it before its time and play it even if their link drops."""
        async with self.sessions() as session:
            rendered = select(Render.bulletin_id).where(
                Render.bulletin_id == Bulletin.id, Render.version == Bulletin.version
            )
            waiting = (
                (
                    await session.execute(
                        select(Bulletin)
                        .join(Schedule, Schedule.bulletin_id == Bulletin.id)
                        .where(
                            Schedule.done.is_(False),
                            Schedule.paused.is_(False),
                            Schedule.run_at <= utcnow() + RENDER_AHEAD,
                            Bulletin.status == BulletinStatus.SCHEDULED,
                            ~rendered.exists(),
                        )
                        .limit(5)
                    )
                )
                .scalars()
                .unique()
                .all()
            )
        for bulletin in waiting:
            task = self.renders.get(bulletin.id)
            if task is None or task.done():  # a failed one is tried again, as its backoff allows
                self._render_started(bulletin.id)

    def _rendered(self, bulletin_id: int) -> bool | None:
        """The bulletin's background render: ``None`` while it runs (started here if none
        is), then its result, once."""
        task = self.renders.get(bulletin_id)
        if task is None:
            self._render_started(bulletin_id)
            return None
        if not task.done():
            return None
        del self.renders[bulletin_id]
        if task.cancelled():
            return False
        if task.exception() is not None:
            log.error("render of bulletin %s failed", bulletin_id, exc_info=task.exception())
            return False
        return task.result()

    def _render_started(self, bulletin_id: int) -> None:
        task = asyncio.create_task(self._render_task(bulletin_id))
        task.add_done_callback(lambda _: self.wake.set())  # the loop looks at its schedule again
        self.renders[bulletin_id] = task

    async def _render_task(self, bulletin_id: int) -> bool:
        async with self.sessions() as session:
            bulletin = await session.get(Bulletin, bulletin_id)
            return bulletin is not None and await self._render(session, bulletin)

    async def _render(self, session: AsyncSession, bulletin: Bulletin) -> bool:
        """Render the bulletin's formats; on failure keep the reason on the bulletin (once)
        and wait before the next try (``RenderBackoff``)."""
        usable = await asyncio.to_thread(self.renderer.store.usable)
        if not self.render_backoff.ready(bulletin.id, usable):
            return False
        try:
            await self.renderer.render(session, bulletin)
        except Exception as exc:
            usable = await asyncio.to_thread(self.renderer.store.usable)
            reason = str(exc)[:2000]
            if isinstance(exc, OSError) and not usable:  # the same words each time: told once
                root = self.renderer.store.root
                reason = f"không ghi được vào thư mục âm thanh {root} ({exc.strerror}): bị xóa, chưa gắn hoặc chỉ đọc"
            if self.render_backoff.failed(bulletin.id, reason, usable):
                bulletin.render_error = reason
                await session.commit()
                log.exception("render of bulletin %s failed; tried again later, with a growing wait", bulletin.id)
            return False
        if self.render_backoff.succeeded(bulletin.id):
            log.info("render of bulletin %s succeeded after failing", bulletin.id)
        return True

    async def _has_renders(self, session: AsyncSession, bulletin: Bulletin) -> bool:
        done = (
            await session.execute(
                select(func.count()).where(Render.bulletin_id == bulletin.id, Render.version == bulletin.version)
            )
        ).scalar_one()
        return int(done) >= len(PURPOSES)
