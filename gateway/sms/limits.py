"""The SMS account's operator limits, shared through the database by every process.

- ``smpp_binds``: bind slots leased in ``sms_binds``. A worker binds only while it holds
  a slot; it renews the lease every third of ``LEASE_S``, and a slot whose holder died
  (no renewal for ``LEASE_S``) is taken by another worker. With the default of one bind,
  one worker sends the account's SMS and the others stand by.
- ``sms_tps``: the send slots of the whole account, evenly spaced, handed out from
  ``sms_rate``: a process moves the account's next free slot forward by a few slots in
  one atomic UPDATE (about a quarter of a second's worth), then spaces its parts over
  them. Slots a process did not use in time are dropped, never sent in a burst, so
  every process together stays within ``sms_tps``.
- ``smpp_window`` is per bind, as SMPP defines it (§2.5): at most ``smpp_binds`` x
  ``smpp_window`` submits are outstanding for the account.

Times are Unix time from each process's clock: processes on several machines need their
clocks synchronized (NTP), as the leases of the ledger already do.
"""

from __future__ import annotations

import asyncio
import collections
import time

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import SmsBind, SmsRate
from gateway.db.session import write_lock

LEASE_S = 15.0  # a dead holder's bind slot is free after this long
CHUNK_S = 0.25  # send slots reserved at once: this many seconds' worth


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


class SharedPacer:
    """At most ``rate`` submissions per second for the account, whatever the number of
    processes calling ``wait`` (each through its own ``SharedPacer``)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], account: str, rate: float) -> None:
        self.sessions = sessions
        self.account = account
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.chunk = max(1, int(rate * CHUNK_S))
        self._slots: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        while True:
            now = time.time()
            while self._slots and self._slots[0] < now - self.interval:
                self._slots.popleft()  # missed: sending it now would burst
            if self._slots:
                slot = self._slots.popleft()
                break
            async with self._lock:
                if not self._slots:
                    await self._reserve()
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _reserve(self) -> None:
        span = self.chunk * self.interval
        async with self.sessions() as session:
            await write_lock(session)
            now = time.time()
            moved = await session.execute(
                update(SmsRate)
                .where(SmsRate.account == self.account)
                .values(next_at=case((SmsRate.next_at < now, now), else_=SmsRate.next_at) + span)
                .returning(SmsRate.next_at)
            )
            end = moved.scalar_one_or_none()
            if end is None:  # the account's first send: its row, then the same update
                await session.execute(
                    _insert(session)(SmsRate).values(account=self.account, next_at=0.0).on_conflict_do_nothing()
                )
                await session.commit()
                return
            await session.commit()
        first = end - span
        self._slots.extend(first + i * self.interval for i in range(self.chunk))


class BindLease:
    """One of the account's ``binds`` slots, held by ``holder`` while it renews it."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], account: str, binds: int, holder: str) -> None:
        self.sessions = sessions
        self.account = account
        self.binds = binds
        self.holder = holder
        self.slot: int | None = None

    async def take(self) -> bool:
        """Hold a free slot (or keep the one held); whether one is held."""
        async with self.sessions() as session:
            await write_lock(session)
            now = time.time()
            existing = set(
                (await session.execute(select(SmsBind.slot).where(SmsBind.account == self.account))).scalars()
            )
            missing = [{"account": self.account, "slot": s, "holder": "", "expires_at": 0.0} for s in range(self.binds)]
            missing = [row for row in missing if row["slot"] not in existing]
            if missing:
                await session.execute(_insert(session)(SmsBind).values(missing).on_conflict_do_nothing())
            order = [self.slot] if self.slot is not None else []
            for slot in order + [s for s in range(self.binds) if s != self.slot]:
                taken = await session.execute(
                    update(SmsBind)
                    .where(
                        SmsBind.account == self.account,
                        SmsBind.slot == slot,
                        (SmsBind.holder == self.holder) | (SmsBind.expires_at < now),
                    )
                    .values(holder=self.holder, expires_at=now + LEASE_S)
                )
                if taken.rowcount:  # type: ignore[attr-defined]
                    await session.commit()
                    self.slot = slot
                    return True
            await session.commit()
        self.slot = None
        return False

    async def release(self) -> None:
        if self.slot is None:
            return
        async with self.sessions() as session:
            await write_lock(session)
            await session.execute(
                update(SmsBind)
                .where(SmsBind.account == self.account, SmsBind.slot == self.slot, SmsBind.holder == self.holder)
                .values(holder="", expires_at=0.0)
            )
            await session.commit()
        self.slot = None
