"""Stopping a broadcast from one place (issue 13): the schedule the clusters pull never
holds an item of a stopped or cancelled bulletin; ``POST /api/v1/bulletins/{id}/stop``
settles every row of the bulletin with its reason and silences the live channels; daily
recurrences can be seen, paused, resumed and cancelled. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from gateway.db.models import Bulletin, Delivery
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_devices import emergency, market_day, register

pytestmark = pytest.mark.asyncio


async def _sent_pull_item(gateway: Gateway) -> tuple[dict[str, tuple[object, str]], object, int]:
    users = await seed(gateway)
    token = await register(gateway)
    device = gateway.client()
    device.headers["Authorization"] = f"Bearer {token}"
    bid = await emergency(gateway, users)
    await gateway.run_worker()
    (item,) = (await device.get("/api/device/v1/schedule")).json()["items"]
    assert item["bulletin"] == bid
    async with gateway.services.sessions() as s:
        (row,) = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars()
    assert row.state == "sent"
    return users, device, bid  # type: ignore[return-value]


@pytest.mark.parametrize("status", ["cancelled", "stopped"])
async def test_a_cancelled_or_stopped_bulletin_leaves_the_clusters_schedule_even_with_a_sent_row(
    gateway: Gateway, status: str
) -> None:
    """Issue 13: a cancelled alert's ``sent`` row kept it on the pull schedule, playing."""
    _, device, bid = await _sent_pull_item(gateway)
    async with gateway.services.sessions() as s:
        bulletin = await s.get(Bulletin, bid)
        assert bulletin is not None
        bulletin.status = status  # as a CAP Cancel leaves it, its row still "sent"
        await s.commit()
    await asyncio.sleep(2.1)  # past every cache of the schedule
    assert (await device.get("/api/device/v1/schedule")).json()["items"] == []  # type: ignore[attr-defined]
