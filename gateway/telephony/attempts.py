"""The record of each call attempt (``call_attempts``): written before the Originate (the
call's context for whichever FastAGI server Asterisk reaches, and the trace a crash
leaves), marked when answered, closed with Asterisk's codes and the outcome; and the
settling of a row whose previous holder died mid-attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import CallAttempt, utcnow
from gateway.db.retry import retrying
from gateway.db.states import CallOutcome, DeliveryState
from gateway.delivery import ledger
from gateway.delivery.channel import Job
from gateway.delivery.ledger import Outcome
from gateway.ivr.calls import CallContexts, key_hash
from gateway.telephony.outcomes import CallResult, RetryPolicy

MAX_CALL_SECONDS = 30 * 60
AGI_GRACE = 5.0  # after the Hangup event, how long the IVR may take to report
CHECK_EVERY = 3.0  # how often a worker that took a call over asks Asterisk whether it is still up


class Attempts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], contexts: CallContexts, policy: RetryPolicy) -> None:
        self.sessions = sessions
        self.contexts = contexts
        self.policy = policy

    async def begin(self, job: Job, trunk: str, call_id: str, key: str) -> None:
        """The attempt's row, written before the Originate: the call's context for any
        FastAGI server (gateway/ivr/calls.py) and the trace a crash leaves."""
        bulletin = job.artifacts.get("telephone")
        async with self.sessions() as session:
            session.add(
                CallAttempt(
                    call_id=call_id,
                    delivery_id=job.claim.id,
                    number=job.claim.target,
                    server=trunk,
                    priority=ledger.PRIORITY_RANK[job.priority],
                    key_hash=key_hash(key),
                    flow="reply" if job.source == "reply" else "outbound",
                    bulletin_path=str(bulletin) if bulletin is not None else None,
                )
            )
            await session.commit()

    async def calls_made(self, delivery_id: int) -> int:
        """How many times the row's number was really called: its attempts' records, less
        those that were not the number's (a refused Originate, a refusing trunk). The
        row's claim count is no measure: a worker that takes a row over claims it once
        more without calling."""
        return await retrying(lambda: self._calls_made(delivery_id), "counting a number's calls")

    async def _calls_made(self, delivery_id: int) -> int:
        async with self.sessions() as session:
            count = await session.execute(
                select(func.count())
                .select_from(CallAttempt)
                .where(
                    CallAttempt.delivery_id == delivery_id,
                    CallAttempt.outcome.not_in((CallOutcome.CONFIG, CallOutcome.TRUNK)),
                )
            )
            return int(count.scalar_one())

    async def mark_answered(self, call_id: str) -> None:
        await retrying(lambda: self._mark_answered(call_id), "recording an answered call")

    async def _mark_answered(self, call_id: str) -> None:
        async with self.sessions() as session:
            row = (await session.execute(select(CallAttempt).where(CallAttempt.call_id == call_id))).scalar_one()
            row.outcome, row.answered_at = CallOutcome.ANSWERED, utcnow()
            await session.commit()

    async def end(self, call_id: str, result: CallResult, label: CallOutcome, detail: str) -> None:
        """The call's outcome, written once the database answers: a resident who heard the
        bulletin while the database restarted must not be called again for want of it."""
        await retrying(lambda: self._end(call_id, result, label, detail), "recording a call's outcome")

    async def _end(self, call_id: str, result: CallResult, label: CallOutcome, detail: str) -> None:
        ended = utcnow()
        values: dict[str, Any] = {
            "outcome": label,
            "reason": result.reason,
            "cause": result.cause,
            "heard_seconds": result.heard_seconds,
            "detail": detail[:1000],
            "ended_at": ended,
        }
        async with self.sessions() as session:
            await session.execute(update(CallAttempt).where(CallAttempt.call_id == call_id).values(**values))
            if result.answered:  # answered before the IVR could say so (a very short call)
                await session.execute(
                    update(CallAttempt)
                    .where(CallAttempt.call_id == call_id, CallAttempt.answered_at.is_(None))
                    .values(answered_at=ended)
                )
            await session.commit()

    async def recover(
        self,
        job: Job,
        keep_lease: Callable[[int], Coroutine[Any, Any, None]],
        channel_up: Callable[[str, str], Coroutine[Any, Any, bool | None]],
    ) -> Outcome | None:
        """The previous holder died mid-attempt: settle from its record. A call still up
        on Asterisk goes on in the IVR of whichever server it reached, which writes its
        report to the same row: wait for that report and count what the resident heard.
        Asterisk is asked whether the call is still up (``channel_up``): a call whose
        FastAGI session died with its process leaves no report, and is settled from what
        its IVR wrote as it went (the bulletin played to its end, or not)."""
        async with self.sessions() as session:
            last = (
                await session.execute(
                    select(CallAttempt)
                    .where(CallAttempt.delivery_id == job.claim.id)
                    .order_by(CallAttempt.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        if last is not None and last.ended_at is None and last.ivr_ended_at is None:
            keep = asyncio.create_task(keep_lease(job.claim.id))
            try:
                await self._until_over(last, channel_up)
            finally:
                keep.cancel()
        async with self.sessions() as session:
            last = (
                await session.execute(
                    select(CallAttempt)
                    .where(CallAttempt.delivery_id == job.claim.id)
                    .order_by(CallAttempt.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if last is None or last.outcome in (CallOutcome.DELIVERED, CallOutcome.HEARD_UNKNOWN):
                return Outcome(DeliveryState.DELIVERED, detail=last.detail) if last is not None else None
            if last.ivr_ended_at is not None and last.ended_at is None:
                result = CallResult(
                    answered=True,
                    heard_seconds=last.bulletin_samples / 8000,
                    bulletin_complete=last.bulletin_complete,
                    confirmed=last.confirmed,
                    amd=last.amd_status,
                )
                decision = self.policy.decide(result, max(1, await self._calls_made(job.claim.id)))
                last.outcome, last.ended_at = decision.label, utcnow()
                last.heard_seconds = result.heard_seconds
                last.answered_at = last.answered_at or last.connected_at
                last.detail = f"{decision.detail} (kết quả nhận sau khi tiến trình gọi dừng)"
                await session.commit()
                if decision.kind == DeliveryState.RETRY:
                    return Outcome(
                        DeliveryState.RETRY,
                        reference=last.call_id,
                        detail=last.detail,
                        retry_after=decision.retry_after,
                    )
                return Outcome(decision.kind, reference=last.call_id, detail=last.detail)
            answered = last.outcome == CallOutcome.ANSWERED or last.answered_at is not None
            if last.ended_at is None and (last.connected_at is not None or answered):
                # over on Asterisk, no report: its IVR died with it; what it wrote as it went
                result = CallResult(
                    answered=True,
                    heard_seconds=(last.bulletin_samples or 0) / 8000,
                    bulletin_complete=bool(last.bulletin_complete),
                    confirmed=bool(last.confirmed),
                    amd=last.amd_status or "",
                    lost=True,
                )
                decision = self.policy.decide(result, max(1, await self._calls_made(job.claim.id)))
                last.outcome, last.ended_at = decision.label, utcnow()
                last.heard_seconds = result.heard_seconds
                last.answered_at = last.answered_at or last.connected_at
                last.detail = f"{decision.detail} (tiến trình phục vụ cuộc gọi dừng trước khi báo kết quả)"
                await session.commit()
                return Outcome(
                    decision.kind, reference=last.call_id, detail=last.detail, retry_after=decision.retry_after
                )
            if last.outcome == CallOutcome.DIALING:
                last.outcome, last.ended_at = CallOutcome.LOST, utcnow()
                last.detail = "tiến trình gửi dừng khi đang quay số; người nghe chưa nhấc máy"
                await session.commit()
        return None  # nobody heard it: dial again

    async def _until_over(
        self, last: CallAttempt, channel_up: Callable[[str, str], Coroutine[Any, Any, bool | None]]
    ) -> None:
        """Until the IVR's report, or until Asterisk says the call is gone (and the grace
        for a live IVR to report after the hang-up has passed), at most MAX_CALL_SECONDS
        from the Originate."""
        since = last.connected_at or last.started_at or utcnow()
        deadline = asyncio.get_running_loop().time() + max(
            AGI_GRACE, MAX_CALL_SECONDS - (utcnow() - since).total_seconds()
        )
        report = asyncio.ensure_future(self.contexts.report(last.call_id))
        try:
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                done, _ = await asyncio.wait({report}, timeout=min(CHECK_EVERY, left))
                if done:
                    return
                if await channel_up(last.server, last.call_id) is False:
                    await asyncio.wait({report}, timeout=AGI_GRACE)
                    return
        finally:
            report.cancel()
