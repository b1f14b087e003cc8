"""Who receives a bulletin's SMS: the subscribers of its areas (villages included), each
number once, without those who opted out; and what that will cost."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import areas as areas_tree
from gateway.db.models import Area, Subscriber
from gateway.sms.encoding import cost_preview, plan

LONG_PARTS = 3  # above this a message is worth shortening: a warning, not a refusal


def _active(areas: set[int]):  # type: ignore[no-untyped-def]
    return (Subscriber.area_id.in_(areas), Subscriber.opted_out.is_(False))


async def query(session: AsyncSession, area_ids: Iterable[int], emergency: bool = False) -> Select[Any]:
    """The numbers subscribed in these areas (and below), opted-out ones left out except
    for an emergency (an opt-out stops bulletins, never warnings); each once (a number has
    one subscription)."""
    areas = await areas_tree.subtree(session, area_ids)
    if emergency:
        return select(Subscriber.phone).where(Subscriber.area_id.in_(areas))
    return select(Subscriber.phone).where(*_active(areas))


async def count(session: AsyncSession, area_ids: Iterable[int]) -> int:
    areas = await areas_tree.subtree(session, area_ids)
    query = select(func.count(func.distinct(Subscriber.phone))).where(*_active(areas))
    return int((await session.execute(query)).scalar_one())


async def preview(session: AsyncSession, text: str, area_codes: Iterable[str]) -> dict[str, object]:
    """Parts x recipients for the text and its unaccented variant, with a length warning."""
    codes = list(dict.fromkeys(area_codes))
    ids = list((await session.execute(select(Area.id).where(Area.code.in_(codes)))).scalars()) if codes else []
    recipients = await count(session, ids) if ids else 0
    result = cost_preview(text, recipients)
    parts = plan(text).count
    result["recipients"] = recipients
    result["warning"] = f"Tin dài {parts} phần: cân nhắc rút gọn hoặc dùng bản không dấu." if parts > LONG_PARTS else ""
    return result
