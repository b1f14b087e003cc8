"""Issue 18, server-side reach: folder sources are for admins and only under the configured
import roots; feeds never reach loopback, private, link-local or metadata addresses (after
DNS and after every redirect) unless allow-listed; a device token downloads only the audio
scheduled for that device."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

from gateway.db.models import Case, ImportRun, ImportSource
from tests.gateway.conftest import seed
from tests.gateway.test_devices import emergency, register
from tests.security.conftest import in_process

pytestmark = pytest.mark.asyncio
FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Cổng nội bộ</title>'
    "<item><title>Lịch cắt điện tuần tới</title><description>&lt;p&gt;Thông báo lịch cắt điện của điện lực huyện"
    " cho các thôn trong xã vào sáng thứ Ba tuần tới.&lt;/p&gt;&lt;p&gt;Bà con chủ động sắp xếp công việc và"
    " bảo quản thực phẩm trong thời gian mất điện.&lt;/p&gt;</description>"
    "</item></channel></rss>"
)


@pytest.fixture
def internal() -> Iterator[dict[str, str]]:
    """Two loopback servers: 127.0.0.2 (the one an admin may allow) redirects /ra to the
    secret on 127.0.0.1; both serve a feed at /rss."""
    servers, urls = [], {}
    for host in ("127.0.0.1", "127.0.0.2"):

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/ra":
                    self.send_response(302)
                    self.send_header("Location", urls["127.0.0.1"] + "/rss")
                    self.end_headers()
                    return
                body = FEED.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        server = ThreadingHTTPServer((host, 0), Handler)
        urls[host] = f"http://{host}:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield urls
    for server in servers:
        server.shutdown()
        server.server_close()


async def run_feed(gw, users, name: str, url: str) -> dict:  # type: ignore[no-untyped-def]
    editor, csrf = users["bientap"]
    h = {"X-CSRF-Token": csrf}
    r = await editor.post("/api/v1/import/sources", json={"name": name, "kind": "feed", "location": url}, headers=h)
    assert r.status_code == 201, r.text
    r = await editor.post(f"/api/v1/import/sources/{r.json()['id']}/run", headers=h)
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize(
    ("name", "where", "reason"),
    [
        ("loopback", "http://127.0.0.1:{port}/rss", "loopback"),
        ("by-name", "http://localhost:{port}/rss", "loopback"),
        ("metadata", "http://169.254.169.254/latest/meta-data/", "metadata"),
        ("private", "http://10.255.255.1/rss", "mạng riêng"),
        ("mapped", "http://[::ffff:127.0.0.1]:{port}/rss", "loopback"),
    ],
)
async def test_feed_to_an_internal_address_is_refused(
    tmp_path: Path, internal: dict[str, str], name: str, where: str, reason: str
) -> None:
    async with in_process(tmp_path / "data") as gw:
        users = await seed(gw)
        port = internal["127.0.0.1"].rsplit(":", 1)[1]
        run = await run_feed(gw, users, name, where.format(port=port))
    assert not run["created"] and len(run["errors"]) == 1, run
    assert reason in run["errors"][0]


async def test_a_redirect_to_an_internal_address_is_refused_and_the_allow_list_works(
    tmp_path: Path, internal: dict[str, str]
) -> None:
    async with in_process(tmp_path / "data", fetch_allow="127.0.0.2/32") as gw:
        users = await seed(gw)
        allowed = await run_feed(gw, users, "allowed", internal["127.0.0.2"] + "/rss")
        hop = await run_feed(gw, users, "hop", internal["127.0.0.2"] + "/ra")
    assert len(allowed["created"]) == 1 and not allowed["errors"], allowed
    assert not hop["created"] and "loopback" in hop["errors"][0], hop


async def test_folder_sources_are_for_admins_and_only_under_import_roots(tmp_path: Path) -> None:
    root = tmp_path / "nhap-tin"
    (root / "xa").mkdir(parents=True)
    async with in_process(tmp_path / "data", import_roots=str(root)) as gw:
        users = await seed(gw)
        editor, ecsrf = users["bientap"]
        admin, acsrf = users["admin"]

        def body(name: str, location: str) -> dict[str, object]:
            return {"name": name, "kind": "folder", "location": location}

        r = await editor.post(
            "/api/v1/import/sources", json=body("a", str(root / "xa")), headers={"X-CSRF-Token": ecsrf}
        )
        assert r.status_code == 403, r.text
        for outside in ("/etc", str(gw.services.settings.data_dir), str(root / "xa" / ".." / "..")):
            r = await admin.post("/api/v1/import/sources", json=body("b", outside), headers={"X-CSRF-Token": acsrf})
            assert r.status_code == 422 and "import_roots" in r.json()["errors"][0]["message"], (outside, r.text)
        r = await admin.post(
            "/api/v1/import/sources", json=body("c", str(root / "xa")), headers={"X-CSRF-Token": acsrf}
        )
        assert r.status_code == 201, r.text


async def test_a_folder_source_outside_the_roots_is_not_read_or_moved(tmp_path: Path) -> None:
    """A source row from before the rule (or a root removed from the configuration)."""
    secret = tmp_path / "bi-mat"
    secret.mkdir()
    (secret / "mat-khau.txt").write_text("Mật khẩu máy chủ\n\nroot: 123456 và các khóa khác\n", "utf-8")
    async with in_process(tmp_path / "data") as gw:
        users = await seed(gw)
        async with gw.services.sessions() as s:
            s.add(ImportSource(name="cu", kind="folder", location=str(secret), interval_minutes=5))
            await s.commit()
            source_id = (await s.execute(select(ImportSource.id))).scalar_one()
        admin, csrf = users["admin"]
        r = await admin.post(f"/api/v1/import/sources/{source_id}/run", headers={"X-CSRF-Token": csrf})
        async with gw.services.sessions() as s:
            runs = (await s.execute(select(ImportRun))).scalars().all()
    assert not r.json()["created"] and "import_roots" in r.json()["errors"][0], r.text
    assert runs and (secret / "mat-khau.txt").exists() and not (secret / "done").exists()


async def test_a_device_token_downloads_only_audio_scheduled_for_it(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data") as gw:
        users = await seed(gw)
        token = await register(gw)
        device = gw.client()
        device.headers["Authorization"] = f"Bearer {token}"
        admin, csrf = users["admin"]
        voice = io.BytesIO()
        tone = 0.3 * np.sin(2 * np.pi * 300 * np.arange(16000) / 8000)
        sf.write(voice, tone, 8000, format="WAV", subtype="PCM_16")
        r = await admin.post(
            "/api/v1/cases/recording",
            files={"audio": ("phan-anh.wav", voice.getvalue(), "audio/wav")},
            data={"caller": "0912000111"},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 201, r.text
        async with gw.services.sessions() as s:
            recording = (await s.execute(select(Case.audio_sha256))).scalar_one()
        assert recording
        refused = await device.get(f"/api/device/v1/audio/{recording}")
        assert refused.status_code == 404, "a resident's recording went to a loudspeaker cluster"

        await emergency(gw, users)
        await gw.run_worker()
        (item,) = (await device.get("/api/device/v1/schedule")).json()["items"]
        audio = await device.get(item["audio_url"])
        assert audio.status_code == 200 and hashlib.sha256(audio.content).hexdigest() == item["sha256"]
