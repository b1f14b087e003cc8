"""The context of each call Loa originates, kept in the database (``call_attempts``), not
in the memory of the process that dialled: Asterisk may reach any worker's FastAGI server
(``agi://`` in the dialplan's ``LOA`` may name another worker, or a restarted one), and
that server finds the call's bulletin and number by the call id in the AGI URL, checks the
call's random key against its hash, and writes what the resident heard back to the same
row. The worker that holds the ledger row, this one or the one that took it over, reads it
from there.

A session runs only for a call that was dialled, not yet connected and not yet ended,
with its key: the first ``UPDATE ... WHERE connected_at IS NULL`` wins, so a call is
served once however many servers are asked.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import CallAttempt, utcnow
from gateway.db.retry import retrying

POLL = 0.5  # how often a waiting worker looks at the row (a report from this process wakes it at once)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IvrReport:
    """What the IVR wrote back when the session ended."""

    bulletin_samples: int = 0
    bulletin_complete: bool = False  # counts as heard (to its end, or confirmed by key)
    confirmed: bool = False
    amd: str = ""


@dataclass(frozen=True)
class CallContext:
    bulletin: Path | None
    number: str


class CallContexts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._local: dict[str, asyncio.Event] = {}  # reports written by this process

    async def claim(self, call_id: str, key: str) -> CallContext | None:
        """The call's context, once, for a session that names a live call with its key."""
        if not call_id or not key:
            return None
        async with self.sessions() as session:
            row = (
                await session.execute(select(CallAttempt).where(CallAttempt.call_id == call_id))
            ).scalar_one_or_none()
            if row is None or not row.key_hash or not hmac.compare_digest(key_hash(key), row.key_hash):
                return None
            taken = await session.execute(
                update(CallAttempt)
                .where(
                    CallAttempt.call_id == call_id,
                    CallAttempt.connected_at.is_(None),
                    CallAttempt.ended_at.is_(None),
                )
                .values(connected_at=utcnow())
            )
            await session.commit()
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return CallContext(Path(row.bulletin_path) if row.bulletin_path else None, row.number)

    async def finish(self, call_id: str, report: IvrReport) -> None:
        """The IVR's report, written once the database answers (it exists only here)."""
        await retrying(lambda: self._finish(call_id, report), "recording what the caller heard")
        event = self._local.get(call_id)
        if event is not None:
            event.set()

    async def _finish(self, call_id: str, report: IvrReport) -> None:
        async with self.sessions() as session:
            await session.execute(
                update(CallAttempt)
                .where(CallAttempt.call_id == call_id)
                .values(
                    ivr_ended_at=utcnow(),
                    bulletin_samples=report.bulletin_samples,
                    bulletin_complete=report.bulletin_complete,
                    confirmed=report.confirmed,
                    amd_status=report.amd[:16],
                )
            )
            await session.commit()

    async def progress(self, call_id: str, report: IvrReport) -> None:
        """What the resident has heard so far, written as soon as the bulletin has played:
        a session whose process is killed (SIGKILL) writes no report at its end, and the
        resident who heard the whole bulletin must not be called again for want of it."""
        await retrying(lambda: self._progress(call_id, report), "recording what the caller heard")

    async def _progress(self, call_id: str, report: IvrReport) -> None:
        async with self.sessions() as session:
            await session.execute(
                update(CallAttempt)
                .where(CallAttempt.call_id == call_id, CallAttempt.ivr_ended_at.is_(None))
                .values(
                    bulletin_samples=report.bulletin_samples,
                    bulletin_complete=report.bulletin_complete,
                    confirmed=report.confirmed,
                    amd_status=report.amd[:16],
                )
            )
            await session.commit()

    async def heard_so_far(self, call_id: str) -> IvrReport | None:
        """The last progress an IVR wrote for a call whose report never came (None: none)."""
        return await retrying(lambda: self._heard_so_far(call_id), "reading a call's record")

    async def _heard_so_far(self, call_id: str) -> IvrReport | None:
        async with self.sessions() as session:
            row = (
                await session.execute(select(CallAttempt).where(CallAttempt.call_id == call_id))
            ).scalar_one_or_none()
        if row is None or row.connected_at is None:
            return None
        return IvrReport(
            row.bulletin_samples or 0, bool(row.bulletin_complete), bool(row.confirmed), row.amd_status or ""
        )

    async def connected(self, call_id: str) -> bool:
        return await retrying(lambda: self._connected(call_id), "reading a call's record")

    async def _connected(self, call_id: str) -> bool:
        async with self.sessions() as session:
            at = (
                await session.execute(select(CallAttempt.connected_at).where(CallAttempt.call_id == call_id))
            ).scalar_one_or_none()
        return at is not None

    async def report(self, call_id: str) -> IvrReport:
        """Wait until the IVR, on whichever server, has written its report."""
        event = self._local.setdefault(call_id, asyncio.Event())
        try:
            while True:
                row = await retrying(lambda: self._reported(call_id), "reading a call's record")
                if row is not None:
                    return IvrReport(row.bulletin_samples, row.bulletin_complete, row.confirmed, row.amd_status)
                try:
                    await asyncio.wait_for(event.wait(), POLL)
                except TimeoutError:
                    pass
        finally:
            self._local.pop(call_id, None)

    async def _reported(self, call_id: str) -> CallAttempt | None:
        async with self.sessions() as session:
            query = select(CallAttempt).where(CallAttempt.call_id == call_id, CallAttempt.ivr_ended_at.is_not(None))
            return (await session.execute(query)).scalar_one_or_none()
