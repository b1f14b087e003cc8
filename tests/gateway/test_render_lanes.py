"""Renders off the dispatcher's tick (issue 19): an emergency that becomes due while a long
normal bulletin renders is rendered and queued without waiting for that render."""

from __future__ import annotations

import asyncio

import pytest

from gateway.db.models import Bulletin
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_devices import emergency

pytestmark = pytest.mark.asyncio


async def long_normal(users) -> int:  # type: ignore[no-untyped-def]
    """A normal bulletin, sent now, of distinct sentences (no phrase cache hits): a long render."""
    editor, ecsrf = users["bientap"]
    approver, acsrf = users["duyet"]
    text = " ".join(f"Thông báo số {n}: thôn {n % 9} họp bàn việc sửa đường liên xã vào tối nay." for n in range(300))
    body = {"title": "Họp thôn", "body": text, "targets": [{"channel": "loudspeaker", "area": "T1"}]}
    bid = int((await editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": ecsrf})).json()["id"])
    await editor.post(f"/api/v1/bulletins/{bid}/submit", headers={"X-CSRF-Token": ecsrf})
    await approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": acsrf})
    await approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers={"X-CSRF-Token": acsrf})
    return bid


async def status(gateway: Gateway, bid: int) -> str:
    async with gateway.services.sessions() as s:
        bulletin = await s.get(Bulletin, bid)
        assert bulletin is not None
        return bulletin.status


async def test_an_emergency_due_during_a_long_render_is_queued_before_that_render_ends(gateway: Gateway) -> None:
    users = await seed(gateway)
    progress = gateway.services.renderer.progress.values
    stop = asyncio.Event()
    worker = asyncio.create_task(gateway.services.dispatcher.run(stop, interval=0.1))
    try:
        normal = await long_normal(users)
        for _ in range(6000):  # until the long render has begun
            if progress.get(normal, 0.0) > 0.0:
                break
            await asyncio.sleep(0.05)
        urgent = await emergency(gateway, users)
        while await status(gateway, urgent) not in ("delivering", "done", "partly_failed"):
            assert not worker.done()
            await asyncio.sleep(0.05)
        # Queued while the normal bulletin was still rendering: it did not wait for it.
        assert progress[normal] < 1.0
        assert await status(gateway, normal) == "rendering"
    finally:
        stop.set()
        await worker
