"""Channels claim, act, report: in batches (SMS), a few rows at a time, or kept fed with
rows (calls, which last minutes). A row of a bulletin taken off the air, or one whose CAP
expiry passed since the claim, is settled without acting."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.config import Settings
from gateway.db.models import Artifact, Bulletin, Render, utcnow
from gateway.db.states import DeliveryState
from gateway.delivery import leases, ledger
from gateway.delivery.channel import BatchChannel, Channel, Job

log = logging.getLogger("gateway.delivery.dispatcher")  # its name before the split: log filters use it


class ChannelRuns:
    """Part of :class:`~gateway.delivery.dispatcher.Dispatcher`, which sets these."""

    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    worker: str
    feeders: dict[str, asyncio.Task[None]]
    _jobs: dict[int, tuple[float, Job]]
    stopped: set[int]  # bulletins taken off the air: claimed rows of them are dropped

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
                outcomes = [ledger.Outcome(DeliveryState.RETRY, detail=f"lỗi kênh: {exc}"[:500])] * len(jobs)
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

    async def _deliver_one(self, channel: Channel, claim: ledger.Claim) -> None:
        if claim.bulletin_id in self.stopped:
            # Taken off the air after the claim: not acted on. A row the stop settled already
            # refuses this report; one it did not (an alert cancelled elsewhere) is settled here.
            async with self.sessions() as session:
                off = ledger.Outcome(DeliveryState.CANCELLED, detail="bản tin đã dừng phát hoặc bị hủy trước khi gửi")
                await ledger.report(session, claim.id, self.worker, off, self.settings.max_attempts)
            return
        job = await self._job(claim)
        if job.expires_at is not None and job.expires_at <= utcnow():  # claimed in time, reached too late
            async with self.sessions() as session:
                expired = ledger.Outcome(DeliveryState.EXPIRED, detail=ledger.EXPIRED_DETAIL)
                await ledger.report(session, claim.id, self.worker, expired, self.settings.max_attempts)
            return
        try:
            outcome = await channel.deliver(job)
        except Exception as exc:
            log.exception("channel %s failed on delivery %s", channel.name, claim.id)
            outcome = ledger.Outcome(DeliveryState.RETRY, detail=f"lỗi kênh: {exc}"[:500])
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
