"""The area tree (province > commune/ward > village): what lies under an area."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Area


async def subtree(session: AsyncSession, area_ids: Iterable[int]) -> set[int]:
    """The areas and every area under them."""
    areas = set(area_ids)
    frontier = set(areas)
    while frontier:
        children = set((await session.execute(select(Area.id).where(Area.parent_id.in_(frontier)))).scalars())
        frontier = children - areas
        areas |= frontier
    return areas


async def ancestors(session: AsyncSession, area_id: int) -> set[int]:
    """The areas above ``area_id`` (its commune, its province), not itself."""
    found: set[int] = set()
    parent = (await session.execute(select(Area.parent_id).where(Area.id == area_id))).scalar_one_or_none()
    while parent is not None and parent not in found:
        found.add(parent)
        parent = (await session.execute(select(Area.parent_id).where(Area.id == parent))).scalar_one_or_none()
    return found
