"""Leases kept alive while their holder works: a worker that is still delivering the
rows it claimed renews their leases every third of ``lease_seconds``, so a batch that
takes longer than the lease (an SMS campaign paced by ``sms_tps``, a paced file channel,
a slow peer) is not taken over by another worker as if its holder had died. Only a dead
or stalled worker stops renewing; then its rows are recovered when the lease runs out.

Found by the chaos suite (docs/chaos.md): without it, two workers on one SMS campaign
marked rows ``unknown`` and resent emergency parts with no process dying at all."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Delivery, utcnow

log = logging.getLogger("loa.delivery")


async def extend_many(session: AsyncSession, ids: Collection[int], worker: str, lease_seconds: int) -> int:
    """Renew the leases ``worker`` still holds among ``ids``; how many it still held."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(ids)), Delivery.lease_owner == worker, Delivery.state == "in_progress")
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
    )
    await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def kept(
    sessions: Callable[[], Any], ids: Collection[int], worker: str, lease_seconds: int
) -> AsyncIterator[None]:
    """While the block runs, the leases of ``ids`` held by ``worker`` are renewed (``ids``
    may be a set the block changes: it is read at each renewal). A renewal that fails
    (the database restarting) is tried again at the next tick."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_seconds / 3)
            if not ids:
                continue
            try:
                async with sessions() as session:
                    await extend_many(session, ids, worker, lease_seconds)
            except Exception as exc:
                log.warning("lease renewal failed, trying again: %s", exc)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
