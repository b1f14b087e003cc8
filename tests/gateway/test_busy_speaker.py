"""A LAN speaker busy playing one bulletin: the next one waits for it, as long as its air
window allows (not five tries in a minute), and the bulletin list says so."""

from __future__ import annotations

import asyncio
import re
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.db.models import Bulletin, Delivery, utcnow
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_devices import market_day, register

pytestmark = pytest.mark.asyncio


async def _row(gw: Gateway, bid: int) -> Delivery:
    async with gw.services.sessions() as s:
        return (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalar_one()


async def _due_now(gw: Gateway, bid: int, **values: object) -> None:
    async with gw.services.sessions() as s:
        await s.execute(update(Delivery).where(Delivery.bulletin_id == bid).values(next_attempt_at=utcnow(), **values))
        await s.commit()


async def test_the_next_bulletin_waits_for_a_busy_lan_speaker_until_its_air_window_ends(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, _ = users["bientap"]
    channel = gateway.services.channels["loudspeaker"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as speaker:
        speaker.bind(("127.0.0.1", 0))
        await register(gateway, "LOA-CHO", kind="rtp", rtp_address=f"127.0.0.1:{speaker.getsockname()[1]}")
        playing = await market_day(users, repeats=8)  # long enough to stay on the air through the test
        await gateway.run_worker()
        assert (await _row(gateway, playing)).state == "sent"
        following = await market_day(users, repeats=1)
        await gateway.run_worker()
        for _ in range(8):  # more tries than max_attempts: a busy speaker is not a failed try
            row = await _row(gateway, following)
            assert row.state == "retry", (row.state, row.detail)
            assert "chờ loa rảnh" in row.detail
            await _due_now(gateway, following)
            await gateway.run_worker(rounds=1)
        row = await _row(gateway, following)
        assert row.state == "retry"
        # it comes back when the stream playing now should have ended, not every 15 seconds
        assert row.next_attempt_at > utcnow() + timedelta(seconds=16), row.next_attempt_at - utcnow()
        page = (await editor.get("/")).text
        listed = re.search(rf'<a href="/bulletins/{following}">.*?</tr>', page, re.S)
        assert listed and "Đang chờ loa rảnh" in listed[0], listed

        # Its air window: queued longer ago than a bulletin waits for a busy speaker.
        await _due_now(gateway, following, created_at=utcnow() - timedelta(hours=2))
        await gateway.run_worker(rounds=1)
        row = await _row(gateway, following)
        assert row.state == "failed" and "loa bận" in row.detail, (row.state, row.detail)
        await gateway.run_worker(rounds=2)
        async with gateway.services.sessions() as s:
            bulletin = await s.get(Bulletin, following)
            assert bulletin is not None and bulletin.status == "partly_failed"
        page = (await editor.get("/")).text
        listed = re.search(rf'<a href="/bulletins/{following}">.*?</tr>', page, re.S)
        assert listed and "loa bận" in listed[0] and "Đã lên lịch" not in listed[0], listed
        await channel.close()  # type: ignore[attr-defined]
        await asyncio.sleep(0)
