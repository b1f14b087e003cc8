"""Queue one occurrence of a bulletin: one ledger row per (channel, target).

Channels that deliver to areas (loudspeakers, files) get a row per area. A channel that
expands an area into its own targets (SMS: the area's subscribers) gives a SELECT of
those targets, and the rows are written by one INSERT ... SELECT inside the database:
a 100,000-recipient campaign is queued without 100,000 Python objects. A channel that
is not configured gets a visible failed row instead of a row nobody will ever claim.
Everything happens in the caller's transaction: all rows or none.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Delivery, UTCDateTime, utcnow
from gateway.db.states import DeliveryState
from gateway.delivery.channel import Channel
from gateway.delivery.ledger import PRIORITY_RANK

COLUMNS = (
    "bulletin_id",
    "occurrence",
    "channel",
    "target",
    "priority",
    "state",
    "attempts",
    "detail",
    "reference",
    "next_attempt_at",
    "created_at",
    "updated_at",
)


async def queue(
    session: AsyncSession,
    channels: dict[str, Channel],
    bulletin_id: int,
    occurrence: int,
    priority: int,
    targets: list[tuple[str, int, str]],
    first_attempt: Callable[[str], datetime],
) -> int:
    """Write the ledger rows of ``targets`` (channel, area id, area code); returns how many."""
    now = utcnow()
    plain: dict[tuple[str, str], tuple[str, str, DeliveryState, str]] = {}
    expanding: dict[str, list[tuple[int, str]]] = {}
    for name, area_id, code in targets:
        channel = channels.get(name)
        if channel is None:
            plain[(name, code)] = (name, code, DeliveryState.FAILED, f"kênh '{name}' chưa được cấu hình")
        elif hasattr(channel, "targets_query"):
            expanding.setdefault(name, []).append((area_id, code))
        else:
            plain.setdefault((name, code), (name, code, DeliveryState.PENDING, ""))
    count = 0
    if plain:
        rows: list[dict[str, Any]] = [
            dict(
                zip(
                    COLUMNS,
                    (
                        bulletin_id,
                        occurrence,
                        name,
                        target,
                        priority,
                        state,
                        0,
                        detail,
                        "",
                        first_attempt(name),
                        now,
                        now,
                    ),
                    strict=True,
                )
            )
            for name, target, state, detail in plain.values()
        ]
        await session.execute(insert(Delivery), rows)
        count += len(rows)
    for name, areas in expanding.items():
        area_ids = [area_id for area_id, _ in areas]
        emergency = priority >= PRIORITY_RANK["emergency"]  # opt-outs never cover emergencies
        targets_query: Select[Any] = await channels[name].targets_query(session, area_ids, emergency)  # type: ignore[attr-defined]
        chosen = targets_query.subquery()
        source = select(
            literal(bulletin_id),
            literal(occurrence),
            literal(name),
            chosen.c[0],
            literal(priority),
            literal(DeliveryState.PENDING.value),
            literal(0),
            literal(""),
            literal(""),
            literal(first_attempt(name), UTCDateTime()),
            literal(now, UTCDateTime()),
            literal(now, UTCDateTime()),
        )
        await session.execute(insert(Delivery).from_select(list(COLUMNS), source))
        counted = int((await session.execute(select(func.count()).select_from(chosen))).scalar_one())
        if not counted:  # nobody to deliver to must show, not vanish
            detail = getattr(channels[name], "empty_detail", "không có nơi nhận nào ở địa bàn này")
            empty = [
                {
                    "bulletin_id": bulletin_id,
                    "occurrence": occurrence,
                    "channel": name,
                    "target": code,
                    "priority": priority,
                    "state": "failed",
                    "attempts": 0,
                    "detail": detail,
                    "reference": "",
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for code in dict.fromkeys(code for _, code in areas)
            ]
            await session.execute(insert(Delivery), empty)
            counted = len(empty)
        count += counted
    return count
