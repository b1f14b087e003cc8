"""Render claims (issue 17): several processes reaching the same bulletin's render at once
(the web process's preview at submission, two workers at scheduling) render it once;
the others wait for that render and use it, and no false "Lỗi tạo âm thanh" is left on
the delivered bulletin."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.app import Services, build_services, start
from gateway.bulletins.render import PURPOSES, Renderer
from gateway.config import Settings
from gateway.db.models import Bulletin, Delivery
from tests.gateway.conftest import Gateway, seed

pytestmark = pytest.mark.asyncio


class Counted:
    """A synthesizer that counts its renders (each one a full synthesis of the bulletin)."""

    def __init__(self, synth: Any, renders: list[str]) -> None:
        self._synth, self._renders = synth, renders

    async def arender(self, *args: Any, **kwargs: Any) -> Any:
        self._renders.append("render")
        return await self._synth.arender(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._synth, name)


def count_renders(renderer: Renderer, renders: list[str]) -> None:
    original: Callable[..., Any] = renderer.synthesizer

    async def synthesizer(voice_id: str, lane: str = "live", speed: float = 1.0) -> Any:
        return Counted(await original(voice_id, lane, speed), renders)

    renderer.synthesizer = synthesizer  # type: ignore[method-assign]


async def queue_due(services: Services) -> None:
    dispatcher = services.dispatcher
    await dispatcher.run_schedules()
    while await dispatcher.settle_renders():
        await dispatcher.run_schedules()


async def test_workers_racing_on_a_render_render_it_once_and_leave_no_false_error(
    gateway: Gateway, tmp_path: Path
) -> None:
    users = await seed(gateway)
    settings = gateway.services.settings
    second = build_services(
        Settings(data_dir=tmp_path / "second", database_url=settings.db_url, secret_key="k" * 32, lease_seconds=30)
    )
    await start(second)
    renders: list[str] = []
    for services in (gateway.services, second):
        count_renders(services.renderer, renders)
    try:
        editor, ecsrf = users["bientap"]
        approver, acsrf = users["duyet"]
        text = " ".join(f"Thông báo số {n}: thôn {n % 9} họp bàn việc sửa đường liên xã tối nay." for n in range(12))
        body = {"title": "Họp thôn", "body": text, "targets": [{"channel": "file", "area": "T1"}]}
        bid = int((await editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": ecsrf})).json()["id"])
        await editor.post(f"/api/v1/bulletins/{bid}/submit", headers={"X-CSRF-Token": ecsrf})  # the preview starts
        await approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": acsrf})
        r = await approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers={"X-CSRF-Token": acsrf})
        assert r.status_code == 200, r.text
        await asyncio.gather(queue_due(gateway.services), queue_due(second))
        await asyncio.gather(*gateway.services.previews.tasks, *second.previews.tasks)
        await gateway.run_worker()
        assert len(renders) == len(PURPOSES)  # each format synthesized once, by one of the three
        async with gateway.services.sessions() as s:
            bulletin = await s.get(Bulletin, bid)
            assert bulletin is not None
            assert bulletin.render_error == ""
            assert bulletin.status == "done"
            rows = (await s.execute(Delivery.__table__.select().where(Delivery.bulletin_id == bid))).all()
            assert rows and all(row.state == "delivered" for row in rows)
    finally:
        await second.engine.dispose()
