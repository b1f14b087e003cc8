"""Compile a programme from its template: greeting with the date, the approved items in
priority order (emergency, priority, normal; then oldest first) with bridges, closing.

Length: items are taken while the estimated length fits the template's limit; after
rendering, items are dropped from the end until the real length fits. What is dropped
stays approved for the next programme, and the officer gets a warning naming it. The
result is a bulletin (source ``programme``) with its renders already in place, targeted
at the template's areas on the loudspeaker channel and scheduled at the air time, so the
loudspeakers, the hotline's "latest bulletins" and the podcast all use the same audio.

A run is rendered by whoever opened it (the worker, or "Tạo ngay" in the background)
while a heartbeat shows it is alive; the worker takes over a run whose heartbeat stopped
(the process died mid-render), so a crash 30 minutes before air still gets the programme
out. While it renders, the first pass's MP3 grows in the run's work directory
(``preview_file``): the officer hears the first item before the rest is done.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.render import Renderer
from gateway.db.models import (
    ProgrammeRun,
    ProgrammeTemplate,
    utcnow,
)
from gateway.db.states import ProgrammeRunStatus
from gateway.programmes.assemble import Segment, assemble
from gateway.programmes.items import choose, segments_for, waiting_items
from gateway.programmes.publish import publish
from gateway.programmes.runs import Claim, work_dir

log = logging.getLogger(__name__)
BEAT_SECONDS = 20.0
STALE = timedelta(seconds=90)  # a heartbeat older than this: the compiling process stopped
LATE = timedelta(minutes=30)  # after its air time plus this, a stopped run is not rendered again
GAVE_UP = "Bị gián đoạn khi đang tạo (máy chủ dừng) và đã quá giờ phát: không tạo lại. Bấm 'Tạo ngay' nếu vẫn cần."


class Compiler:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], renderer: Renderer, timezone: str = "Asia/Ho_Chi_Minh"
    ) -> None:
        self.sessions = sessions
        self.renderer = renderer
        self.zone = ZoneInfo(timezone)

    async def compile(
        self,
        template_id: int,
        air_at: datetime,
        on_segment: Callable[[int, Segment, float], None] | None = None,
    ) -> ProgrammeRun:
        run, claim = await self.open_run(template_id, air_at)
        return await self.render(claim, on_segment) if claim is not None else run

    async def open_run(self, template_id: int, air_at: datetime) -> tuple[ProgrammeRun, Claim | None]:
        """The run of this air time, and the claim to render it (None when another worker
        already compiles or compiled it)."""
        async with self.sessions() as session:
            if await session.get(ProgrammeTemplate, template_id) is None:
                raise ValueError(f"no programme template {template_id}")
            token = secrets.token_hex(8)
            run = ProgrammeRun(template_id=template_id, air_at=air_at, heartbeat_at=utcnow(), renderer=token)
            session.add(run)
            try:
                await session.commit()
                return run, Claim(run.id, token)
            except IntegrityError:
                await session.rollback()
                same = (ProgrammeRun.template_id == template_id, ProgrammeRun.air_at == air_at)
                return (await session.execute(select(ProgrammeRun).where(*same))).scalar_one(), None

    async def take_over_stale(self) -> list[Claim]:
        """Runs left compiling by a process that stopped (its heartbeat is older than
        ``STALE``): the caller renders again those still worth airing; the others are
        marked failed with the reason, so no run stays "compiling" for ever."""
        now = utcnow()
        stopped = and_(
            ProgrammeRun.status == ProgrammeRunStatus.COMPILING,
            or_(ProgrammeRun.heartbeat_at.is_(None), ProgrammeRun.heartbeat_at < now - STALE),
        )
        taken: list[Claim] = []
        async with self.sessions() as session:
            for run in (await session.execute(select(ProgrammeRun).where(stopped))).scalars().all():
                token = secrets.token_hex(8)
                late = run.air_at < now - LATE
                values: dict[str, object] = (
                    {"status": "failed", "warning": GAVE_UP, "renderer": None}
                    if late
                    else {"heartbeat_at": now, "renderer": token}
                )
                claimed = await session.execute(
                    update(ProgrammeRun).where(ProgrammeRun.id == run.id, stopped).values(**values)
                )
                await session.commit()
                if claimed.rowcount and not late:  # type: ignore[attr-defined]
                    taken.append(Claim(run.id, token))
                elif claimed.rowcount:  # type: ignore[attr-defined]
                    await asyncio.to_thread(shutil.rmtree, work_dir(self.renderer.store.root, run.id), True)
        return taken

    async def render(
        self, claim: Claim, on_segment: Callable[[int, Segment, float], None] | None = None
    ) -> ProgrammeRun:
        """Render and publish a run this caller holds, beating its heartbeat meanwhile.
        Each attempt has a directory of its own: a slow attempt that lost the run (its
        heartbeat was late) writes nowhere the new one reads, and settles nothing."""
        beat = asyncio.create_task(self._beat(claim))
        try:
            run = await self._render(claim, on_segment)
        except Exception:
            async with self.sessions() as session:
                now = await session.get(ProgrammeRun, claim.run_id)
            if now is None or now.renderer == claim.renderer:
                raise
            log.warning("programme run %s: an attempt that lost the run stopped (its files went)", claim.run_id)
            run = now
        finally:
            beat.cancel()
        if run.status != ProgrammeRunStatus.COMPILING:  # settled: no attempt is needed any more
            await asyncio.to_thread(shutil.rmtree, work_dir(self.renderer.store.root, claim.run_id), True)
        return run

    def _mine(self, claim: Claim) -> ColumnElement[bool]:
        return and_(
            ProgrammeRun.id == claim.run_id,
            ProgrammeRun.status == ProgrammeRunStatus.COMPILING,
            ProgrammeRun.renderer == claim.renderer,
        )

    async def _beat(self, claim: Claim) -> None:
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            try:
                async with self.sessions() as session:
                    beat = await session.execute(
                        update(ProgrammeRun).where(self._mine(claim)).values(heartbeat_at=utcnow())
                    )
                    await session.commit()
                if not beat.rowcount:  # type: ignore[attr-defined]
                    log.warning("programme run %s was taken over; this attempt settles nothing", claim.run_id)
                    return
            except Exception:  # a missed beat is retried; a long outage lets a worker take over
                log.warning("programme run %s: heartbeat not written", claim.run_id, exc_info=True)

    async def _render(self, claim: Claim, on_segment: Callable[[int, Segment, float], None] | None) -> ProgrammeRun:
        run_id = claim.run_id
        work = work_dir(self.renderer.store.root, run_id) / claim.renderer
        async with self.sessions() as session:
            run = await session.get(ProgrammeRun, run_id)
            assert run is not None  # opened by open_run or taken over
            template = await session.get(ProgrammeTemplate, run.template_id)
            assert template is not None  # a run's template is never deleted
            air_at = run.air_at
            items = await waiting_items(session)
        limit = template.max_minutes * 60.0
        chosen, dropped = choose(items, limit)
        if not chosen:
            nothing = "Không có tin nào đã duyệt để đưa vào chương trình."
            return await self._finish(claim, status=ProgrammeRunStatus.EMPTY, warning=nothing)
        rendered: dict[str, npt.NDArray[np.float32]] = {}
        attempt = 0
        while True:
            attempt += 1
            segments = segments_for(template, chosen, air_at.astimezone(self.zone))
            try:
                audio = await assemble(
                    self.renderer,
                    template.voice,
                    segments,
                    work / f"pass-{attempt}",
                    template.jingle,
                    on_segment,
                    rendered,
                )
            except Exception as exc:
                log.exception("programme %s failed to render", template.name)
                return await self._finish(
                    claim, status=ProgrammeRunStatus.FAILED, warning=f"không tạo được âm thanh: {exc}"
                )
            if audio.duration <= limit or len(chosen) == 1:
                break
            dropped.insert(0, chosen.pop())  # the real length is over: the last item waits
        store, zone = self.renderer.store, self.zone
        return await publish(self.sessions, store, zone, claim, template, chosen, dropped, audio, air_at, limit)

    async def _finish(self, claim: Claim, status: ProgrammeRunStatus, warning: str) -> ProgrammeRun:
        async with self.sessions() as session:
            await session.execute(
                update(ProgrammeRun)
                .where(self._mine(claim))
                .values(status=status, warning=warning, heartbeat_at=None, renderer=None)
            )
            await session.commit()
            run = await session.get(ProgrammeRun, claim.run_id)
            assert run is not None  # created by compile
            return run
