"""Render claims: one process renders a bulletin's version, the others wait for it.

The web process (the preview at submission) and every worker (at scheduling, or ahead
of it) may reach the same render at once. Each render takes the version's claim in
``render_claims`` first; the holder renews it while it synthesizes (every third of
``CLAIM_S``), and a claim not renewed for ``CLAIM_S`` (its holder died) is taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import RenderClaim
from gateway.db.session import write_lock

CLAIM_S = 60.0


def new_holder() -> str:
    """One per render attempt: two renders in one process are two holders."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:120]


async def take(sessions: async_sessionmaker[AsyncSession], bulletin_id: int, version: int, holder: str) -> bool:
    """Hold (or renew) the claim; False while another live holder has it."""
    async with sessions() as session:
        await write_lock(session)
        now = time.time()
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        await session.execute(
            insert(RenderClaim)
            .values(bulletin_id=bulletin_id, version=version, holder="", expires_at=0.0)
            .on_conflict_do_nothing()
        )
        taken = await session.execute(
            update(RenderClaim)
            .where(
                RenderClaim.bulletin_id == bulletin_id,
                RenderClaim.version == version,
                (RenderClaim.holder == holder) | (RenderClaim.expires_at < now),
            )
            .values(holder=holder, expires_at=now + CLAIM_S)
        )
        await session.commit()
        return bool(taken.rowcount)  # type: ignore[attr-defined]


async def release(sessions: async_sessionmaker[AsyncSession], bulletin_id: int, version: int, holder: str) -> None:
    async with sessions() as session:
        await write_lock(session)
        await session.execute(
            update(RenderClaim)
            .where(RenderClaim.bulletin_id == bulletin_id, RenderClaim.version == version, RenderClaim.holder == holder)
            .values(holder="", expires_at=0.0)
        )
        await session.commit()


@contextlib.asynccontextmanager
async def held(
    sessions: async_sessionmaker[AsyncSession], bulletin_id: int, version: int, holder: str
) -> AsyncIterator[None]:
    """Renew the claim (taken by ``take``) while the block runs; release it after."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(CLAIM_S / 3)
            await take(sessions, bulletin_id, version, holder)

    keeper = asyncio.create_task(renew())
    try:
        yield
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await keeper
        await release(sessions, bulletin_id, version, holder)
