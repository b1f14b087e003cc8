"""A programme run's life: "Tạo ngay" answers at once and renders in the background; the
officer hears the first item, over real HTTP, while the rest is still rendering; a run
whose compiling process died is taken over by the worker (or, past its air time, marked
failed with the reason), so no programme is silently lost."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select, update

from gateway.db.models import Bulletin, ProgrammeRun, ProgrammeTemplate, utcnow
from gateway.programmes.compile import GAVE_UP, Compiler
from gateway.programmes.runs import preview_file, work_dir
from gateway.programmes.worker import ProgrammeWorker
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_programmes import ITEMS, approve_items
from tests.support.smsc import wait_until

pytestmark = pytest.mark.asyncio


def mp3_seconds(data: bytes) -> float:
    """How much audio an MP3 byte string holds, decoded by ffmpeg."""
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "mp3", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "8000", "pipe:1"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    return len(np.frombuffer(pcm, "<i2")) / 8000


class Gate:
    """The voice, held before the ``after``-th segment until the test opens it."""

    def __init__(self, synth: Any, after: int) -> None:
        self.synth = synth
        self.after = after
        self.count = 0
        self.opened = asyncio.Event()
        self.waiting = False

    @property
    def sample_rate(self) -> int:
        return int(self.synth.sample_rate)

    async def arender(self, text: str, path: Path, settings: Any) -> Any:
        self.count += 1
        if self.count > self.after:
            self.waiting = True
            await self.opened.wait()
        return await self.synth.arender(text, path, settings)


async def add_template(users, name: str = "Bản tin sáng") -> int:  # type: ignore[no-untyped-def]
    editor, csrf = users["bientap"]
    r = await editor.post(
        "/api/v1/programmes",
        json={"name": name, "times": "06:00", "areas": ["XA1"], "max_minutes": 15},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_the_first_item_is_heard_while_the_rest_renders(gateway: Gateway, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    from tests.support.server import free_port

    users = await seed(gateway)
    await approve_items(gateway, users, ITEMS)
    template_id = await add_template(users)
    renderer = gateway.services.renderer
    gate = Gate(await renderer.synthesizer("vi-espeak"), after=3)  # greeting, item 1, bridge; then held

    async def gated(voice: str, lane: str = "live") -> Gate:
        return gate

    monkeypatch.setattr(renderer, "synthesizer", gated)
    editor, csrf = users["bientap"]
    port = free_port()
    config = uvicorn.Config(gateway.app, host="127.0.0.1", port=port, lifespan="off", log_level="error")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    cookies = {c.name: c.value for c in editor.cookies.jar}
    try:
        await wait_until(lambda: server.started)
        r = await editor.post(f"/api/v1/programmes/{template_id}/compile", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 202 and r.json()["status"] == "compiling"
        run_id, listen = r.json()["id"], r.json()["listen_url"]
        heard = bytearray()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", cookies=cookies, timeout=60) as http:
            async with http.stream("GET", listen) as response:
                assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"
                chunks = response.aiter_bytes()
                while not gate.waiting:
                    heard += await asyncio.wait_for(anext(chunks), 30)
                while True:  # what was rendered before the gate keeps coming: take it all
                    more = asyncio.ensure_future(anext(chunks))
                    done, _ = await asyncio.wait({more}, timeout=1.5)
                    if not done:
                        break
                    heard += more.result()
                before_rest = bytes(heard)
                async with gateway.services.sessions() as s:
                    assert (await s.get(ProgrammeRun, run_id)).status == "compiling"  # type: ignore[union-attr]
                gate.opened.set()
                heard += await more
                async for chunk in chunks:  # ends when the programme is whole
                    heard += chunk
        run = await settled(gateway, run_id)
        assert run.status == "ready", run.warning
        first = run.chapters[0]
        assert mp3_seconds(before_rest) >= first["start"] + first["duration"]  # all of item 1, rest not rendered
        assert abs(mp3_seconds(bytes(heard)) - run.duration_seconds) < 0.2  # then the whole programme
        final = await editor.get(listen)  # once ready: the published file
        assert final.status_code == 200 and abs(mp3_seconds(final.content) - run.duration_seconds) < 0.2
    finally:
        gate.opened.set()
        server.should_exit = True
        await serving


async def test_a_run_left_compiling_by_a_dead_process_is_taken_over(gateway: Gateway) -> None:
    users = await seed(gateway)
    ids = await approve_items(gateway, users, ITEMS[:2])
    template_id = await add_template(users)
    compiler = Compiler(gateway.services.sessions, gateway.services.renderer)
    now = utcnow().replace(microsecond=0)
    dead, dead_claim = await compiler.open_run(template_id, now + timedelta(minutes=20))
    alive, _ = await compiler.open_run(template_id, now + timedelta(days=1))
    missed, _ = await compiler.open_run(template_id, now - timedelta(hours=2))
    assert dead_claim is not None and (await compiler.open_run(template_id, now + timedelta(minutes=20)))[1] is None
    await stop_beating(gateway, dead.id, missed.id)
    root = gateway.services.renderer.store.root
    left = preview_file(root, dead.id, dead_claim.renderer)
    left.parent.mkdir(parents=True)
    left.write_bytes(b"\xff\xfb half a frame")  # what the dead process had written
    worker = ProgrammeWorker(gateway.services.sessions, gateway.services.renderer, "Asia/Ho_Chi_Minh")
    assert await worker.compile_due() == 1
    async with gateway.services.sessions() as s:
        runs = {r.id: r for r in (await s.execute(select(ProgrammeRun))).scalars()}
        used = [(await s.get(Bulletin, i)) for i in ids]
    assert runs[dead.id].status == "ready" and [c["bulletin_id"] for c in runs[dead.id].chapters] == [ids[1], ids[0]]
    assert runs[missed.id].status == "failed" and runs[missed.id].warning == GAVE_UP
    assert runs[alive.id].status == "compiling"  # its heartbeat is fresh: someone renders it
    assert all(b is not None and b.status == "done" for b in used)
    assert not work_dir(root, dead.id).exists()
    assert await worker.compile_due() == 0  # nothing left to take over


async def test_a_slow_renderer_that_lost_its_run_publishes_nothing(gateway: Gateway) -> None:
    """Its heartbeat was late, not stopped: it renders on while the worker's new attempt
    renders too. One programme is published, whichever finishes first."""
    users = await seed(gateway)
    await approve_items(gateway, users, ITEMS[:2])
    template_id = await add_template(users)
    compiler = Compiler(gateway.services.sessions, gateway.services.renderer)
    run, slow = await compiler.open_run(template_id, utcnow() + timedelta(minutes=20))
    await stop_beating(gateway, run.id)
    (taken,) = await compiler.take_over_stale()
    assert slow is not None and taken.run_id == run.id and taken.renderer != slow.renderer
    results = await asyncio.gather(compiler.render(slow), compiler.render(taken))
    assert results[1].status == "ready"  # the slow one sees the run as it found it, and changes nothing
    assert results[0].status in ("compiling", "ready") and results[0].bulletin_id in (None, results[1].bulletin_id)
    async with gateway.services.sessions() as s:
        programmes = (await s.execute(select(Bulletin).where(Bulletin.source == "programme"))).scalars().all()
        settled_run = await s.get(ProgrammeRun, run.id)
    assert len(programmes) == 1 and settled_run is not None
    assert (settled_run.status, settled_run.renderer, settled_run.bulletin_id) == ("ready", None, programmes[0].id)
    assert not work_dir(gateway.services.renderer.store.root, run.id).exists()


async def stop_beating(gateway: Gateway, *run_ids: int) -> None:
    """As if the processes rendering these runs had stopped five minutes ago."""
    async with gateway.services.sessions() as s:
        stopped = utcnow() - timedelta(minutes=5)
        await s.execute(update(ProgrammeRun).where(ProgrammeRun.id.in_(run_ids)).values(heartbeat_at=stopped))
        # the template's own next air time is not due, whatever the hour of the test
        await s.execute(update(ProgrammeTemplate).values(next_run_at=utcnow() + timedelta(days=2)))
        await s.commit()


async def test_the_console_starts_a_run_and_offers_to_listen(gateway: Gateway) -> None:
    users = await seed(gateway)
    await approve_items(gateway, users, ITEMS[:1])
    template_id = await add_template(users)
    editor, csrf = users["bientap"]
    r = await editor.post(f"/programmes/templates/{template_id}/compile", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"].startswith("/programmes?note=")
    page = (await editor.get(r.headers["location"])).text
    async with gateway.services.sessions() as s:
        run = (await s.execute(select(ProgrammeRun))).scalar_one()
    assert "Đang tạo chương trình" in page and f"/api/v1/programmes/runs/{run.id}/listen.mp3" in page
    assert (await settled(gateway, run.id)).status == "ready"


async def settled(gateway: Gateway, run_id: int) -> ProgrammeRun:
    for _ in range(300):
        async with gateway.services.sessions() as s:
            run = await s.get(ProgrammeRun, run_id)
        assert run is not None
        if run.status != "compiling":
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} still compiling")
