"""The programme worker: import sources whose interval has passed, and compile each
programme ``lead`` before it airs (so clusters can download it ahead). A template's next
air time is taken with a guarded update: with several workers, one compiles. A run whose
compile stopped (its process died) is taken over first."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.render import Renderer
from gateway.bulletins.schedule import next_occurrence
from gateway.db.models import ProgrammeTemplate, utcnow
from gateway.programmes import reach, sources
from gateway.programmes.compile import Compiler

log = logging.getLogger(__name__)
LEAD = timedelta(minutes=30)


def first_air(times: str, after: datetime | None = None) -> datetime | None:
    return next_occurrence(f"daily {times}", after or utcnow())


class ProgrammeWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        renderer: Renderer,
        timezone: str,
        lead: timedelta = LEAD,
        import_roots: tuple[Path, ...] = (),
        fetch_allow: tuple[str, ...] = (),
    ) -> None:
        self.sessions = sessions
        self.compiler = Compiler(sessions, renderer, timezone)
        self.lead = lead
        self.import_roots = import_roots
        self.fetch_allow = fetch_allow

    async def tick(self) -> bool:
        imported = 0
        if await sources.due_sources(self.sessions):
            # Built in a thread: an HTTP client loads the CA bundle, tens of milliseconds of
            # CPU that would otherwise stall every request the gateway is serving.
            client = await asyncio.to_thread(reach.client, self.fetch_allow, sources.TIMEOUT)
            async with client:
                imported = await sources.run_due(self.sessions, client, self.import_roots)
        compiled = await self.compile_due()
        return bool(imported or compiled)

    async def compile_due(self) -> int:
        count = 0
        for claim in await self.compiler.take_over_stale():
            run = await self.compiler.render(claim)
            log.warning("programme run %s taken over after its compile stopped: %s %s", run.id, run.status, run.warning)
            count += 1
        now = utcnow()
        async with self.sessions() as session:
            due = (
                (
                    await session.execute(
                        select(ProgrammeTemplate).where(
                            ProgrammeTemplate.enabled.is_(True),
                            ProgrammeTemplate.next_run_at.is_not(None),
                            ProgrammeTemplate.next_run_at <= now + self.lead,
                        )
                    )
                )
                .scalars()
                .all()
            )
        for template in due:
            air_at = template.next_run_at
            assert air_at is not None  # filtered above
            async with self.sessions() as session:
                taken = await session.execute(
                    update(ProgrammeTemplate)
                    .where(ProgrammeTemplate.id == template.id, ProgrammeTemplate.next_run_at == air_at)
                    .values(next_run_at=first_air(template.times, air_at))
                )
                await session.commit()
            if not taken.rowcount:  # type: ignore[attr-defined]
                continue
            run = await self.compiler.compile(template.id, air_at)
            log.info("programme %s for %s: %s %s", template.name, air_at, run.status, run.warning)
            count += 1
        return count

    async def run(self, stop: asyncio.Event, interval: float = 30.0) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # the import log and the runs keep the state
                log.exception("programme worker tick failed")
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
