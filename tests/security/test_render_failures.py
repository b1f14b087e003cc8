"""Issue 18, resource limits: a render that fails because the artifacts folder is gone is
tried again with a growing wait (not 20-51 times a second with a traceback each), the
reason is kept on the bulletin once, and the bulletin is rendered when the folder is
back. A stored file missing from the disk is a 404 with its reason, never a bare 500."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.db.models import Artifact, Bulletin, Render
from tests.gateway.conftest import seed
from tests.gateway.test_devices import emergency, register
from tests.security.conftest import in_process

pytestmark = pytest.mark.asyncio


async def test_a_render_into_a_missing_folder_backs_off_and_resumes_when_it_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with in_process(tmp_path / "data") as gw:
        users = await seed(gw)
        store = gw.services.renderer.store.root
        shutil.rmtree(store)  # the disk was unmounted, or someone cleaned up
        bid = await emergency(gw, users)
        stop = asyncio.Event()
        caplog.set_level(logging.INFO, logger="gateway.delivery.dispatcher")
        worker = asyncio.create_task(gw.services.dispatcher.run(stop))
        try:
            await asyncio.sleep(4.0)
            tracebacks = [r for r in caplog.records if r.exc_info and "render" in r.getMessage()]
            async with gw.services.sessions() as s:
                bulletin = await s.get(Bulletin, bid)
                assert bulletin is not None
                error, status = bulletin.render_error, bulletin.status
            assert len(tracebacks) == 1, f"{len(tracebacks)} tracebacks in 4 s"
            assert "artifacts" in error and status == "rendering"

            store.mkdir()  # the folder is back
            for _ in range(50):
                await asyncio.sleep(0.2)
                async with gw.services.sessions() as s:
                    rendered = (await s.execute(select(Render).where(Render.bulletin_id == bid))).first()
                    status = (await s.get(Bulletin, bid)).status  # type: ignore[union-attr]
                if rendered is not None and status != "rendering":
                    break
            assert rendered is not None and status in ("delivering", "done", "partly_failed"), status
        finally:
            stop.set()
            await worker


async def test_a_stored_file_missing_from_the_disk_is_a_404_with_its_reason(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data") as gw:
        users = await seed(gw)
        token = await register(gw)
        bid = await emergency(gw, users)
        await gw.run_worker()
        async with gw.services.sessions() as s:
            paths = [Path(a.path) for a in (await s.execute(select(Artifact))).scalars()]
        await asyncio.to_thread(lambda: [p.unlink() for p in paths])
        device = gw.client()
        device.headers["Authorization"] = f"Bearer {token}"
        (item,) = (await device.get("/api/device/v1/schedule")).json()["items"]
        editor, _ = users["bientap"]
        for client, url in ((device, item["audio_url"]), (editor, f"/api/v1/bulletins/{bid}/audio/loudspeaker")):
            r = await client.get(url)
            assert r.status_code == 404, (url, r.status_code)
            assert "không còn trên đĩa" in r.json()["errors"][0]["message"]
