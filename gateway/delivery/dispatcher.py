"""The worker loop: due schedules -> render -> ledger rows; channels claim, act, report;
finished bulletins are marked done or partly failed. Several processes may run it
against one database: schedules and rows are taken with guarded updates and leases.

Renders run as tasks of their own (the render lane, :mod:`tts.lanes`), never inside the
tick: a due schedule whose render is missing starts it and is looked at again when it
ends, so an emergency that becomes due while a 20-minute render runs starts its own
render, and is queued, at once."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import os
import socket
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.bulletins.render import PURPOSES, Renderer
from gateway.bulletins.schedule import in_quiet_hours, next_occurrence
from gateway.bulletins.service import OFF_AIR, audit, targets_of
from gateway.config import Settings
from gateway.db.models import Artifact, Bulletin, Delivery, Render, Schedule, utcnow
from gateway.delivery import leases, ledger, planner, stop
from gateway.delivery.backoff import RenderBackoff
from gateway.delivery.channel import BatchChannel, Channel, Job

log = logging.getLogger(__name__)
RENDER_AHEAD = timedelta(hours=6)


class Dispatcher:
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

    def _feed(self, channel: Channel) -> None:
        running = self.feeders.get(channel.name)
        if running is None or running.done():
            task = asyncio.create_task(self.feed_channel(channel))
            task.add_done_callback(lambda t: None if t.cancelled() else t.exception())
            self.feeders[channel.name] = task

    async def stop_feeders(self) -> None:
        """Calls in progress are cut off; their rows are settled by whoever claims them next."""
        for task in self.feeders.values():
            task.cancel()
        await asyncio.gather(*self.feeders.values(), return_exceptions=True)
        self.feeders.clear()

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        try:
            await self._loop(stop, interval)
        finally:
            await self.stop_feeders()
            await self.stop_renders()

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
            if getattr(channel, "background", False):
                self._feed(channel)
            else:
                busy = await self.run_channel(channel) or busy
        await self.finish_bulletins()
        return busy

    # --- schedules -> ledger -----------------------------------------------------
    async def run_schedules(self) -> bool:
        async with self.sessions() as session:
            due = (
                (
                    await session.execute(
                        select(Schedule)
                        .where(Schedule.done.is_(False), Schedule.paused.is_(False), Schedule.run_at <= utcnow())
                        .join(Bulletin, Bulletin.id == Schedule.bulletin_id)
                        # Emergencies skip the queue (Thông tư 39/2020), then the oldest first.
                        .order_by((Bulletin.priority == "emergency").desc(), Schedule.run_at)
                    )
                )
                .scalars()
                .all()
            )
        started = False
        for sched in due:
            started = await self.start_occurrence(sched.id) or started
        return started  # a schedule waiting for its render is not work done: the loop may rest

    async def expire_sent(self) -> None:
        """Rows handed to devices that never start an expired item (``sent_expires``) settle
        ``expired`` when their bulletin's CAP expiry passes; other rows do when claimed."""
        for channel in self.channels.values():
            if getattr(channel, "sent_expires", False):
                async with self.sessions() as session:
                    await ledger.expire(session, channel.name, utcnow(), sent=True)
                    await session.commit()

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
                            Bulletin.status == "scheduled",
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

    async def start_occurrence(self, schedule_id: int) -> bool:
        """Render and queue one due occurrence; whether it was queued."""
        async with self.sessions() as session:
            sched = await session.get(Schedule, schedule_id)
            if sched is None or sched.done or sched.paused:
                return False
            bulletin = await session.get(Bulletin, sched.bulletin_id)
            if bulletin is None or bulletin.status in OFF_AIR:
                sched.done = True
                await session.commit()
                return True
            if bulletin.status == "scheduled":
                bulletin.status = "rendering"
                await audit(session, self.worker, "render_start", "bulletin", bulletin.id)
                await session.commit()
            if not await self._has_renders(session, bulletin) and not self._rendered(bulletin.id):
                return False
            targets = await targets_of(session, bulletin.id)
            occurrence = sched.occurrence
            # Take the schedule: only one worker passes this guarded update.
            following = next_occurrence(sched.recurrence, sched.run_at)
            values = {"occurrence": occurrence + 1, "run_at": following} if following else {"done": True}
            taken = await session.execute(
                update(Schedule)
                .where(
                    Schedule.id == sched.id,
                    Schedule.occurrence == occurrence,
                    Schedule.done.is_(False),
                    Schedule.paused.is_(False),
                )
                .values(**values)
            )
            if not taken.rowcount:  # type: ignore[attr-defined]
                await session.rollback()
                return False
            rank = ledger.PRIORITY_RANK[bulletin.priority]
            occurrence_id = sched.id * 100000 + occurrence
            queued = await planner.queue(
                session,
                self.channels,
                bulletin.id,
                occurrence_id,
                rank,
                targets,
                lambda channel: self._first_attempt(channel, bulletin),
            )
            bulletin.status = "delivering"
            bulletin.render_error = ""
            await audit(
                session,
                self.worker,
                "deliver_start",
                "bulletin",
                bulletin.id,
                occurrence=occurrence_id,
                targets=len(targets),
                rows=queued,
            )
            await session.commit()
        self.wake.set()
        return True

    async def _has_renders(self, session: AsyncSession, bulletin: Bulletin) -> bool:
        done = (
            await session.execute(
                select(func.count()).where(Render.bulletin_id == bulletin.id, Render.version == bulletin.version)
            )
        ).scalar_one()
        return int(done) >= len(PURPOSES)

    def _first_attempt(self, channel: str, bulletin: Bulletin) -> datetime:
        now = utcnow()
        quiet = self.settings.quiet_hours.get(channel)
        if quiet is None or bulletin.priority == "emergency":
            return now
        return in_quiet_hours(now, quiet.start, quiet.end) or now

    # --- channels ------------------------------------------------------------------
    async def run_channel(self, channel: Channel) -> bool:
        """Claim a batch and deliver it, ``channel.concurrency`` rows at a time (an SMPP
        window); one at a time for channels that do not say."""
        if isinstance(channel, BatchChannel):
            return await self.run_batch(channel)
        concurrency = max(1, int(getattr(channel, "concurrency", 1)))
        async with self.sessions() as session:
            claims = await ledger.claim(
                session, channel.name, self.worker, self.settings.lease_seconds, limit=max(10, 2 * concurrency)
            )
        gate = asyncio.Semaphore(concurrency)

        async def one(claim: ledger.Claim) -> None:
            async with gate:
                await self._deliver_one(channel, claim)

        async with leases.kept(self.sessions, [c.id for c in claims], self.worker, self.settings.lease_seconds):
            await asyncio.gather(*(one(claim) for claim in claims))
        return bool(claims)

    async def run_batch(self, channel: BatchChannel) -> bool:
        """Claim up to ``channel.batch`` rows, hand them to the channel together (it keeps
        its window full across rows) and report every outcome in one transaction."""
        async with self.sessions() as session:
            claims = await ledger.claim(
                session, channel.name, self.worker, self.settings.lease_seconds, limit=channel.batch
            )
        if not claims:
            return False
        async with leases.kept(self.sessions, [c.id for c in claims], self.worker, self.settings.lease_seconds):
            jobs = [await self._job(claim) for claim in claims]
            try:
                outcomes = await channel.deliver_many(jobs)
            except Exception as exc:
                log.exception("channel %s failed on a batch of %d", channel.name, len(jobs))
                outcomes = [ledger.Outcome("retry", detail=f"lỗi kênh: {exc}"[:500])] * len(jobs)
            async with self.sessions() as session:
                await ledger.report_many(
                    session,
                    {claim.id: outcome for claim, outcome in zip(claims, outcomes, strict=True)},
                    self.worker,
                    self.settings.max_attempts,
                )
        return True

    async def feed_channel(self, channel: Channel) -> None:
        """For channels whose deliveries last minutes (calls): keep ``concurrency`` rows in
        flight, starting one as soon as a slot frees, so an emergency queued meanwhile takes
        one of the next slots instead of waiting for a whole batch. Rows are claimed a few
        at a time, as many as the channel starts in about two seconds at its rate, so a
        campaign does not cost one claim transaction per call. Runs until nothing is due."""
        concurrency = max(1, int(getattr(channel, "concurrency", 1)))
        ahead = max(1, min(concurrency, int(float(getattr(channel, "rate", 1.0)) * 2)))
        inflight: set[asyncio.Task[None]] = set()
        waiting: collections.deque[ledger.Claim] = collections.deque()
        held: set[int] = set()  # waiting or in flight: their leases are kept while they wait for a slot

        async def one(claim: ledger.Claim) -> None:
            try:
                await self._deliver_one(channel, claim)
            finally:
                held.discard(claim.id)

        try:
            async with leases.kept(self.sessions, held, self.worker, self.settings.lease_seconds):
                while True:
                    free = concurrency - len(inflight)
                    if free > 0 and not waiting:
                        async with self.sessions() as session:
                            claims = await ledger.claim(
                                session, channel.name, self.worker, self.settings.lease_seconds, limit=free + ahead
                            )
                        waiting.extend(claims)
                        held.update(c.id for c in claims)
                    while free > 0 and waiting:
                        inflight.add(asyncio.create_task(one(waiting.popleft())))
                        free -= 1
                    if not inflight:
                        return
                    _, inflight = await asyncio.wait(inflight, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in inflight:
                task.cancel()
            await asyncio.gather(*inflight, return_exceptions=True)

    async def sweep(self) -> None:
        """Stops committed by another process: see ``stop.sweep``."""
        self.stopped |= await stop.sweep(self.sessions, self.channels)

    async def _deliver_one(self, channel: Channel, claim: ledger.Claim) -> None:
        if claim.bulletin_id in self.stopped:
            # Taken off the air after the claim: not acted on. A row the stop settled already
            # refuses this report; one it did not (an alert cancelled elsewhere) is settled here.
            async with self.sessions() as session:
                off = ledger.Outcome("cancelled", detail="bản tin đã dừng phát hoặc bị hủy trước khi gửi")
                await ledger.report(session, claim.id, self.worker, off, self.settings.max_attempts)
            return
        job = await self._job(claim)
        if job.expires_at is not None and job.expires_at <= utcnow():  # claimed in time, reached too late
            async with self.sessions() as session:
                expired = ledger.Outcome("expired", detail=ledger.EXPIRED_DETAIL)
                await ledger.report(session, claim.id, self.worker, expired, self.settings.max_attempts)
            return
        try:
            outcome = await channel.deliver(job)
        except Exception as exc:
            log.exception("channel %s failed on delivery %s", channel.name, claim.id)
            outcome = ledger.Outcome("retry", detail=f"lỗi kênh: {exc}"[:500])
        async with self.sessions() as session:
            await ledger.report(session, claim.id, self.worker, outcome, self.settings.max_attempts)

    async def _job(self, claim: ledger.Claim) -> Job:
        """What a channel needs for a row; cached per bulletin for a minute (a bulletin is
        not edited while it is delivered: only drafts and returned ones are)."""
        cached = self._jobs.get(claim.bulletin_id)
        if cached is not None and cached[0] > time.monotonic():
            return dataclasses.replace(cached[1], claim=claim)
        job = await self._load_job(claim)
        if len(self._jobs) > 256:
            self._jobs.clear()
        self._jobs[claim.bulletin_id] = (time.monotonic() + 60.0, job)
        return job

    async def _load_job(self, claim: ledger.Claim) -> Job:
        async with self.sessions() as session:
            bulletin = await session.get(Bulletin, claim.bulletin_id)
            assert bulletin is not None  # ledger rows reference bulletins
            renders = (
                await session.execute(
                    select(Render.purpose, Artifact.path)
                    .join(Artifact, Artifact.sha256 == Render.artifact_sha256)
                    .where(Render.bulletin_id == bulletin.id, Render.version == bulletin.version)
                )
            ).all()
        return Job(
            claim,
            bulletin.id,
            bulletin.title,
            bulletin.priority,
            bulletin.sms_text,
            {purpose: Path(path) for purpose, path in renders},
            bulletin.source,
            bulletin.expires_at,
        )

    async def finish_bulletins(self) -> None:
        async with self.sessions() as session:
            delivering = (
                (await session.execute(select(Bulletin).where(Bulletin.status == "delivering"))).scalars().all()
            )
            for bulletin in delivering:
                rows: dict[str, int] = dict(
                    (
                        await session.execute(
                            select(Delivery.state, func.count())
                            .where(Delivery.bulletin_id == bulletin.id)
                            .group_by(Delivery.state)
                        )
                    ).all()
                )
                if any(state in ledger.OPEN_STATES for state in rows):
                    continue
                bulletin.status = "done" if set(rows) <= {"delivered", "sent", "cancelled"} else "partly_failed"
                await audit(session, self.worker, "deliver_end", "bulletin", bulletin.id, counts=rows)
                pending = (
                    await session.execute(
                        select(func.count())
                        .select_from(Schedule)
                        .where(Schedule.bulletin_id == bulletin.id, Schedule.done.is_(False))
                    )
                ).scalar_one()
                if pending:
                    bulletin.status = "scheduled"
            await session.commit()
