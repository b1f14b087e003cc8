"""Programmes end to end: feeds and files become drafts (duplicates and broken sources
visible in the import log), approved items are compiled into a programme with jingles,
the spoken date and chapter marks, published to the loudspeaker schedule, the podcast
feed and the hotline's list; the e-board feed and the exports."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import defusedxml.ElementTree as ET
import pytest
from sqlalchemy import select

from gateway.db.models import Bulletin, ImportSource, ProgrammeRun, Render, Schedule, Target, utcnow
from gateway.programmes import sources
from gateway.programmes.compile import Compiler
from gateway.programmes.worker import ProgrammeWorker
from tests.conftest import CORPUS, need_shared
from tests.gateway.conftest import Gateway, seed
from tests.support.article_pages import portal_page
from tests.support.web import Site, serve

pytestmark = pytest.mark.asyncio


def corpus(name: str) -> str:
    return (need_shared(CORPUS) / name).read_text(encoding="utf-8")


@pytest.fixture
def site() -> Iterator[Site]:
    with serve(Site()) as running:
        yield running


def rss(site: Site, items: list[tuple[str, str]]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{site.url(path)}</link>"
        f"<pubDate>Fri, 20 Nov 2026 07:30:00 +0700</pubDate><description>Tóm tắt</description></item>"
        for title, path in items
    )
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Cổng tỉnh</title>'
    return f"{head}{entries}</channel></rss>"


async def add_source(gateway: Gateway, users, name: str, kind: str, location: str) -> int:  # type: ignore[no-untyped-def]
    editor, csrf = users["admin" if kind == "folder" else "bientap"]  # folders: admins only (issue 18)
    r = await editor.post(
        "/api/v1/import/sources",
        json={"name": name, "kind": kind, "location": location, "interval_minutes": 5},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_feeds_become_drafts_once_and_broken_sources_show_in_the_log(gateway: Gateway, site: Site) -> None:
    import httpx

    users = await seed(gateway)
    site.add("/a1", portal_page(corpus("pleiku-thong-tin-co-so-2022.txt")))
    site.add("/a2", portal_page(corpus("hanoi-thong-tin-co-so-2022.txt")))
    site.add("/a2-copy", portal_page(corpus("hanoi-thong-tin-co-so-2022.txt"), byline="Thu Hà"))
    site.endless.add("/huge")
    items = [("Pleiku", "/a1"), ("Hà Nội", "/a2"), ("Bản sao", "/a2-copy"), ("Trang khổng lồ", "/huge")]
    site.add("/rss.xml", rss(site, items), "application/rss+xml")
    site.add("/broken.xml", "<rss><channel><item><title>unclosed", "application/rss+xml")
    await add_source(gateway, users, "Cổng tỉnh", "feed", site.url("/rss.xml"))
    await add_source(gateway, users, "Hỏng", "feed", site.url("/broken.xml"))
    await add_source(gateway, users, "Tắt", "feed", "http://127.0.0.1:9/rss")
    sessions = gateway.services.sessions
    async with httpx.AsyncClient(timeout=sources.TIMEOUT) as client:
        assert await sources.run_due(sessions, client) == 3
        assert await sources.run_due(sessions, client) == 0  # not due again yet
        async with sessions() as s:
            for row in (await s.execute(select(ImportSource))).scalars():
                row.last_run_at = None
            await s.commit()
        await sources.run_due(sessions, client)  # a second run imports nothing new
    async with sessions() as s:
        drafts = (await s.execute(select(Bulletin).where(Bulletin.source == "feed"))).scalars().all()
    assert sorted(b.title for b in drafts) == [
        "Hà Nội đổi mới, nâng cao chất lượng nội dung thông tin cơ sở",
        "Pleiku đẩy mạnh công tác thông tin cơ sở trong tình hình mới",
    ]
    assert all(b.status == "draft" and b.for_programme for b in drafts)
    admin, _ = users["admin"]
    log = (await admin.get("/api/v1/import/log")).json()
    by_source = {}
    for run in reversed(log):
        by_source.setdefault(run["source_id"], []).append(run)
    first_feed = by_source[1][0]
    assert (first_feed["created"], first_feed["duplicates"], first_feed["errors"]) == (2, 1, 1)
    assert "lớn hơn" in first_feed["detail"]
    assert by_source[1][1]["created"] == 0 and by_source[1][1]["duplicates"] == 3
    assert by_source[2][0]["status"] == "failed" and "RSS/Atom" in by_source[2][0]["detail"]
    assert by_source[3][0]["status"] == "failed" and "không tải được" in by_source[3][0]["detail"]
    shown = (await admin.get(f"/api/v1/bulletins/{drafts[0].id}/import")).json()
    assert shown["link"].startswith(site.url("/a")) and {r["reason"] for r in shown["removed"]} >= {"chú thích ảnh"}


async def test_uploads_and_a_watched_folder(gateway: Gateway, tmp_path: Path) -> None:
    import docx

    users = await seed(gateway)
    editor, csrf = users["bientap"]
    document = docx.Document()
    document.add_paragraph("Thông báo cắt điện")
    document.add_paragraph("Ngày mai cắt điện từ 7 giờ đến 11 giờ tại thôn Đông, xã Hòa Bình.")
    buffer = io.BytesIO()
    document.save(buffer)
    files = {"file": ("cat-dien.docx", buffer.getvalue(), "application/octet-stream")}
    r = await editor.post("/api/v1/import/upload", files=files, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "Thông báo cắt điện" and r.json()["bulletin_id"]
    again = await editor.post("/api/v1/import/upload", files=files, headers={"X-CSRF-Token": csrf})
    assert again.json()["duplicate"] is True
    pdf = {"file": ("x.pdf", b"%PDF-1.4", "application/pdf")}
    bad = await editor.post("/api/v1/import/upload", files=pdf, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "file"
    folder = gateway.services.settings.import_root_paths[0] / "tin-moi"  # under import_roots (issue 18)
    folder.mkdir(parents=True)
    (folder / "lich-tiem.txt").write_text("Lịch tiêm phòng\n\nSáng thứ hai, trạm y tế xã tiêm phòng dại.\n", "utf-8")
    (folder / "hong.docx").write_bytes(b"not a word file")
    (folder / "anh.jpg").write_bytes(b"\xff\xd8")
    await add_source(gateway, users, "Thư mục", "folder", str(folder))
    async with gateway.services.sessions() as s:
        source = (await s.execute(select(ImportSource))).scalar_one()
    import httpx

    async with httpx.AsyncClient() as client:
        run = await sources.run_source(gateway.services.sessions, source, client, (folder.parent,))
    assert len(run.created) == 1 and len(run.errors) == 1 and "hong.docx" in run.errors[0]
    assert sorted(os.listdir(folder)) == ["anh.jpg", "done", "failed"]
    assert os.listdir(folder / "done") == ["lich-tiem.txt"] and os.listdir(folder / "failed") == ["hong.docx"]


async def approve_items(gateway: Gateway, users, texts: list[tuple[str, str, str]]) -> list[int]:  # type: ignore[no-untyped-def]
    editor, ecsrf = users["bientap"]
    approver, acsrf = users["duyet"]
    ids = []
    for title, body, priority in texts:
        r = await editor.post(
            "/api/v1/import/article", json={"title": title, "text": body}, headers={"X-CSRF-Token": ecsrf}
        )
        assert r.status_code == 201, r.text
        bid = r.json()["bulletin_id"]
        if priority != "normal":
            async with gateway.services.sessions() as s:
                row = await s.get(Bulletin, bid)
                assert row is not None
                row.priority = priority
                await s.commit()
        await editor.post(f"/api/v1/bulletins/{bid}/submit", headers={"X-CSRF-Token": ecsrf})
        r = await approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": acsrf})
        assert r.status_code == 200, r.text
        ids.append(bid)
    return ids


ITEMS = [
    ("Lịch tiêm phòng", "Sáng thứ hai, trạm y tế xã tiêm phòng dại cho chó mèo tại nhà văn hóa thôn Một.", "normal"),
    ("Cảnh báo lũ", "Nước sông đang lên, bà con vùng trũng chuẩn bị di dời tài sản lên cao.", "priority"),
    ("Họp dân", "Tối thứ tư, thôn Hai họp dân bàn việc làm đường giao thông nông thôn.", "normal"),
]


async def test_the_morning_programme_is_compiled_with_date_chapters_and_published(gateway: Gateway) -> None:
    users = await seed(gateway)
    ids = await approve_items(gateway, users, ITEMS)
    editor, csrf = users["bientap"]
    r = await editor.post(
        "/api/v1/programmes",
        json={"name": "Bản tin sáng", "times": "06:00", "areas": ["XA1"], "max_minutes": 15},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    template_id = r.json()["id"]
    air_at = utcnow().replace(microsecond=0) - timedelta(minutes=1)
    segments: list[tuple[int, float]] = []
    compiler = Compiler(gateway.services.sessions, gateway.services.renderer)
    run = await compiler.compile(template_id, air_at, on_segment=lambda n, seg, at: segments.append((n, at)))
    assert run.status == "ready", run.warning
    assert [c["bulletin_id"] for c in run.chapters] == [ids[1], ids[0], ids[2]]  # priority first, then oldest
    starts = [c["start"] for c in run.chapters]
    assert starts == sorted(starts) and starts[0] > 2.0  # after the jingle and the greeting
    assert run.duration_seconds > starts[-1] and not run.dropped and not run.warning
    async with gateway.services.sessions() as s:
        programme = await s.get(Bulletin, run.bulletin_id)
        assert programme is not None and programme.status == "scheduled" and programme.source == "programme"
        purposes = {p for (p,) in (await s.execute(select(Render.purpose).where(Render.bulletin_id == programme.id)))}
        assert purposes == {"loudspeaker", "telephone"}
        assert (await s.execute(select(Target.channel).where(Target.bulletin_id == programme.id))).scalar_one() == (
            "loudspeaker"
        )
        assert (await s.execute(select(Schedule.run_at).where(Schedule.bulletin_id == programme.id))).scalar_one()
        used = [await s.get(Bulletin, i) for i in ids]
        assert all(b is not None and b.status == "done" and not b.for_programme for b in used)
    # the podcast and its page
    client = gateway.client()
    feed = await client.get("/public/podcast.xml")
    enclosure = ET.fromstring(feed.content).find("./channel/item/enclosure")
    assert enclosure is not None and enclosure.get("type") == "audio/mpeg"
    audio = await client.get(enclosure.get("url", "").replace("http://loa.test", ""))
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg" and len(audio.content) > 1000
    page = await client.get("/public/programmes")
    assert "Cảnh báo lũ" in page.text and "<audio" in page.text
    # a cluster in a village of the commune finds it in its schedule, with its audio
    from tests.gateway.test_devices import register

    token = await register(gateway, "CUM-T1")
    cluster = gateway.client()
    cluster.headers["Authorization"] = f"Bearer {token}"
    items = (await cluster.get("/api/device/v1/schedule")).json()["items"]
    assert [i["bulletin"] for i in items] == [run.bulletin_id]
    assert (await cluster.get(items[0]["audio_url"])).status_code == 200
    await cluster.aclose()
    # once aired, the hotline's "latest bulletins" offers it (the telephone render)
    from gateway.ivr.backend import DatabaseBackend

    async with gateway.services.sessions() as s:
        aired = await s.get(Bulletin, run.bulletin_id)
        assert aired is not None
        aired.status = "done"
        await s.commit()
    backend = DatabaseBackend(gateway.services.sessions, gateway.services.spool, Path("/nonexistent"))  # type: ignore[arg-type]
    latest = await backend.latest_bulletins("T1", 3)
    assert latest and latest[0].suffix == ".ulaw"
    # the items went out once: a second programme has nothing to say
    again = await compiler.compile(template_id, air_at + timedelta(days=1))
    assert again.status == "empty" and again.warning
    await client.aclose()


async def test_the_spoken_date_is_read_as_vietnamese_words(gateway: Gateway) -> None:
    from datetime import date

    from gateway.programmes.assemble import spoken_date

    text = spoken_date(date(2026, 11, 23))
    assert text == "Hôm nay, thứ hai, ngày 23 tháng 11 năm 2026"
    spoken = await gateway.services.renderer.spoken_text("vi-espeak", text)
    assert "ngày hai mươi ba tháng mười một năm hai nghìn không trăm hai mươi sáu" in spoken


async def test_a_programme_over_its_limit_drops_the_last_items_and_warns(gateway: Gateway) -> None:
    users = await seed(gateway)
    long_body = corpus("pleiku-thong-tin-co-so-2022.txt").split("\n", 2)[2][:3000]
    ids = await approve_items(
        gateway, users, [("Tin dài một", long_body, "normal"), ("Tin dài hai", long_body + " Thêm.", "normal")]
    )
    editor, csrf = users["bientap"]
    r = await editor.post(
        "/api/v1/programmes",
        json={"name": "Bản tin trưa", "times": "11:30", "areas": ["XA1"], "max_minutes": 3},
        headers={"X-CSRF-Token": csrf},
    )
    run = await Compiler(gateway.services.sessions, gateway.services.renderer).compile(r.json()["id"], utcnow())
    assert run.status == "ready"
    assert [d["bulletin_id"] for d in run.dropped] == [ids[1]]
    assert "chuyển sang lần sau" in run.warning and "Tin dài hai" in run.warning
    async with gateway.services.sessions() as s:
        waiting = await s.get(Bulletin, ids[1])
        assert waiting is not None and waiting.status == "approved" and waiting.for_programme


async def test_the_worker_compiles_ahead_of_air_time_once(gateway: Gateway) -> None:
    users = await seed(gateway)
    await approve_items(gateway, users, ITEMS[:1])
    editor, csrf = users["bientap"]
    r = await editor.post(
        "/api/v1/programmes",
        json={"name": "Bản tin chiều", "times": "17:00", "areas": ["T1"]},
        headers={"X-CSRF-Token": csrf},
    )
    worker = ProgrammeWorker(gateway.services.sessions, gateway.services.renderer, "Asia/Ho_Chi_Minh")
    assert await worker.compile_due() in (0, 1)  # due only if 17:00 is within the lead time
    from gateway.db.models import ProgrammeTemplate

    async with gateway.services.sessions() as s:
        template = await s.get(ProgrammeTemplate, r.json()["id"])
        assert template is not None
        template.next_run_at = utcnow() + timedelta(minutes=10)
        await s.commit()
    assert await worker.compile_due() == 1
    assert await worker.compile_due() == 0  # the next air time is tomorrow
    async with gateway.services.sessions() as s:
        assert (await s.execute(select(ProgrammeRun.status))).scalars().all()[-1] == "ready"


async def test_eboard_feed_and_exports(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, ecsrf = users["bientap"]
    approver, acsrf = users["duyet"]
    for title, area, priority in (("Mất nước thôn Một", "T1", "normal"), ("Bão số 9", "XA1", "emergency")):
        body = {"title": title, "body": f"{title}: bà con chú ý.", "priority": priority}
        body["targets"] = [{"channel": "file", "area": area}]
        bid = (await editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": ecsrf})).json()["id"]
        await editor.post(f"/api/v1/bulletins/{bid}/submit", headers={"X-CSRF-Token": ecsrf})
        await approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": acsrf})
        r = await approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers={"X-CSRF-Token": acsrf})
        assert r.status_code == 200, r.text
    await gateway.run_worker()
    client = gateway.client()
    board = (await client.get("/public/eboard/T1.json")).json()["bulletins"]
    assert [b["title"] for b in board] == ["Bão số 9", "Mất nước thôn Một"]  # emergency first; commune-wide included
    assert [b["title"] for b in (await client.get("/public/eboard/T2.json")).json()["bulletins"]] == ["Bão số 9"]
    text = (await client.get("/public/eboard/T1.txt?ascii=1")).text
    assert text.splitlines()[0] == "KHAN: Bao so 9: Bao so 9: ba con chu y."
    assert (await client.get("/public/eboard/NOPE.json")).json()["errors"][0]["field"] == "area"
    await client.aclose()
    admin, _ = users["admin"]
    exported = (await admin.get("/api/v1/export/bulletins")).json()["bulletins"]
    assert {(b["title"], b["channel"], b["delivered"]) for b in exported} == {
        ("Mất nước thôn Một", "file", 1),
        ("Bão số 9", "file", 1),
    }
    csv_file = await admin.get("/api/v1/export/bulletins?format=csv")
    assert csv_file.content.startswith("\ufeff".encode()) and b"delivered" in csv_file.content
    plays = await admin.get("/api/v1/export/plays?format=csv")
    assert plays.content.decode("utf-8-sig").startswith("device,device_name,area,item,event")
    feedback = (await admin.get("/api/v1/export/feedback")).json()
    assert "areas" in feedback and "total" in feedback
