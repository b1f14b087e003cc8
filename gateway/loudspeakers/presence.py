"""Device presence, buffered: a poll or heartbeat is noted in memory and written to the
database every few seconds in one transaction, instead of one write per request (5,000
clusters polling every 30 s would otherwise be 170 SQLite commits a second)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import Device

log = logging.getLogger(__name__)


class Presence:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], every: float = 2.0) -> None:
        self.sessions = sessions
        self.every = every
        self.pending: dict[int, dict[str, Any]] = {}

    def seen(self, device_id: int, at: datetime, **fields: Any) -> None:
        self.pending.setdefault(device_id, {}).update(fields, last_seen_at=at)

    async def flush(self) -> int:
        batch, self.pending = self.pending, {}
        if not batch:
            return 0
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for device_id, values in batch.items():  # one executemany per set of columns
            groups.setdefault(tuple(sorted(values)), []).append({"device_id": device_id, **values})
        table = Table("devices", Device.metadata)  # the mapped table, as Core sees it
        async with self.sessions() as session:
            connection = await session.connection()
            for columns, rows in groups.items():
                statement = (
                    update(table)
                    .where(table.c.id == bindparam("device_id"))
                    .values({column: bindparam(column) for column in columns})
                )
                await connection.execute(statement, rows)
            await session.commit()
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every)
            try:
                await self.flush()
            except Exception:  # a busy database: keep the marks for the next round
                log.exception("device presence not written yet")
