"""The console's pages as served (HTML over ASGI, in-process, SQLite): a link kept through
the login, only configured channels, HTML error pages, sentences without field names,
the API documentation without internet, and the contacts page (import, opt-outs)."""

from __future__ import annotations

import asyncio
import io
import re

import httpx
import pytest
import soundfile as sf
from sqlalchemy import select

from gateway.db.models import Area, AuditLog, Bulletin, Delivery, Device, Render, Subscriber
from tests.gateway.conftest import Gateway, seed

FILE_T1 = [{"channel": "file", "area": "T1"}]
pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("gateway", ["sqlite"], indirect=True)]


async def console(gw: Gateway, username: str, password: str = "mat-khau-dai-1") -> httpx.AsyncClient:
    client = gw.client()
    r = await login_form(client, {"username": username, "password": password})
    assert r.status_code == 303, r.text
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has a form with a CSRF token"
    return found[1]


async def login_form(client: httpx.AsyncClient, data: dict[str, str]) -> httpx.Response:
    """Posts the login form as a browser does: with the token the login page gave it."""
    page = await client.get("/login")
    return await client.post("/login", data={**data, "csrf_token": csrf_of(page.text)})


async def test_a_link_sent_to_the_approver_survives_the_login(gateway: Gateway) -> None:
    await seed(gateway)
    client = gateway.client()
    r = await client.get("/bulletins/7?x=1")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/bulletins/7%3Fx%3D1"
    page = await client.get(r.headers["location"])
    assert 'name="next" value="/bulletins/7?x=1"' in page.text
    login = {"username": "duyet", "password": "mat-khau-dai-1"}
    r = await login_form(client, {**login, "next": "/bulletins/7?x=1"})
    assert r.status_code == 303 and r.headers["location"] == "/bulletins/7?x=1"
    for outside in ("https://evil.example/", "//evil.example/x"):  # only a path on this site
        r = await login_form(gateway.client(), {**login, "next": outside})
        assert r.headers["location"] == "/"


async def test_only_configured_channels_are_offered_and_accepted(gateway: Gateway) -> None:
    await seed(gateway)
    client = await console(gateway, "bientap")
    page = (await client.get("/bulletins/new")).text
    assert 'value="file:T1"' in page and 'value="loudspeaker:T1"' in page
    assert 'value="sms:T1"' not in page and 'value="call:T1"' not in page  # neither configured here
    form = {"csrf_token": csrf_of(page), "title": "Mất điện", "body": "Mất điện từ 7 giờ.", "targets": ["sms:T1"]}
    r = await client.post("/bulletins/new", data=form)
    assert r.status_code == 303 and "/bulletins/new?error=" in r.headers["location"]
    shown = (await client.get(r.headers["location"])).text
    assert "Kênh Tin nhắn SMS chưa được cấu hình trên máy chủ này nên không chọn được." in shown
    assert "targets:" not in shown  # a sentence, not a field name


async def test_submitting_saves_the_edited_text_first(gateway: Gateway) -> None:
    await seed(gateway)
    client = await console(gateway, "bientap")
    csrf = csrf_of((await client.get("/bulletins/new")).text)
    form = {"csrf_token": csrf, "title": "Họp dân", "body": "Họp lúc 8 giờ.", "targets": ["file:T1"]}
    r = await client.post("/bulletins/new", data=form)
    url = r.headers["location"]
    assert url.endswith("?saved=1")
    assert "Đã lưu." in (await client.get(url)).text
    form["title"] = "Họp dân thôn Một (đổi giờ)"
    r = await client.post(url.replace("?saved=1", "/edit?then=submit"), data=form)
    page = (await client.get(r.headers["location"])).text
    assert "Họp dân thôn Một (đổi giờ)" in page and "Chờ duyệt" in page
    await asyncio.gather(*gateway.services.previews.tasks)  # the audio of the submitted version, made for the approver
    bulletin_id = int(url.split("/")[-1].split("?")[0])
    async with gateway.services.sessions() as session:
        made = (await session.execute(select(Render.purpose).where(Render.bulletin_id == bulletin_id))).scalars()
        assert set(made) == {"loudspeaker", "telephone"}
    page = (await client.get(url)).text
    assert f'src="/bulletins/{bulletin_id}/listen.mp3"' in page and "Thời lượng khoảng" in page
    assert f'href="/api/v1/bulletins/{bulletin_id}/audio/loudspeaker" download' in page  # the WAV stays
    wav = (await client.get(f"/api/v1/bulletins/{bulletin_id}/audio/loudspeaker")).content
    mp3 = await client.get(f"/bulletins/{bulletin_id}/listen.mp3")
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    assert len(mp3.content) * 4 < len(wav)  # what the player downloads over 4G
    heard, wav_info = sf.info(io.BytesIO(mp3.content)), sf.info(io.BytesIO(wav))
    assert heard.format == "MP3" and abs(heard.duration - wav_info.duration) < 0.2


async def test_a_missing_bulletin_is_an_html_page_for_a_person_and_json_for_a_program(gateway: Gateway) -> None:
    await seed(gateway)
    client = await console(gateway, "duyet")
    r = await client.get("/bulletins/9999", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "<h1>Không tìm thấy trang</h1>" in r.text and '"errors"' not in r.text
    r = await client.get("/nothing-here", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "Không tìm thấy trang" in r.text
    r = await client.get("/api/v1/bulletins/9999", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.json()["errors"]


async def test_the_admin_page_title_is_plain_text(gateway: Gateway) -> None:
    await seed(gateway)
    client = await console(gateway, "admin", gateway.admin_password)
    html = (await client.get("/admin")).text
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title and title[1] == "Quản trị — Loa"


async def test_audit_rows_read_in_vietnamese_without_escapes(gateway: Gateway) -> None:
    await seed(gateway)
    async with gateway.services.sessions() as session:
        session.add(AuditLog(actor="loa", action="programme_compiled", entity="programme", entity_id="Ông Sáu",
                             detail={"via": "sms", "note": "Ông Sáu"}))
        await session.commit()
    client = await console(gateway, "admin", gateway.admin_password)
    html = (await client.get("/audit")).text
    assert "Dựng chương trình" in html and "Ông Sáu" in html and "Tin nhắn SMS" in html
    assert "programme_compiled" not in html and "\\u00d4" not in html


async def test_the_api_documentation_needs_no_internet(gateway: Gateway) -> None:
    client = gateway.client()
    html = (await client.get("/docs")).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/") for a in assets), assets  # nothing from a CDN
    for asset in assets:
        assert (await client.get(asset)).status_code == 200, asset
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200 and b"<svg" in icon.content


async def test_contacts_import_gives_a_reason_per_rejected_row_and_lists_opt_outs(gateway: Gateway) -> None:
    await seed(gateway)
    async with gateway.services.sessions() as session:
        session.add(Subscriber(phone="+84987654321", opted_out=True, source="sms"))
        await session.commit()
    client = await console(gateway, "bientap")
    page = (await client.get("/subscribers")).text
    rows = "so_dien_thoai,dia_ban\n0912345678,T1\n0912 345 679\n12345,T1\n0912345678,T2\n0913000000,ZZ\n0987654321,T1\n"
    r = await client.post(
        "/subscribers/import",
        data={"csrf_token": csrf_of(page), "area": "T2"},
        files={"file": ("danh-sach.csv", rows.encode(), "text/csv")},
    )
    assert r.status_code == 200
    assert "Thêm mới 2 số" in r.text and "4 dòng không nhận" in r.text
    rejected = re.search(r'<table class="list cards" id="rejected">(.*?)</table>', r.text, re.S)
    assert rejected
    assert "không phải số điện thoại" in rejected[1]  # line 4
    assert "trùng số với dòng 2" in rejected[1]  # line 5
    assert "không có địa bàn mã &#39;ZZ&#39;" in rejected[1]  # line 6
    assert "đã từ chối nhận tin" in rejected[1]  # line 7
    listing = (await client.get("/subscribers?area=T2&q=0912 345 679")).text
    assert "+84912345679" in listing and "+84912345678" not in listing and "1 số" in listing
    opt = re.search(r'id="opt-outs">(.*?)</div>', listing, re.S)
    assert opt and "+84987654321" in opt[1] and "nhắn tin HUY" in opt[1]
    operator = await console(gateway, "vanhanh")
    assert "+84912345679" not in (await operator.get("/subscribers")).text  # numbers masked for operators


async def test_the_area_tree_reads_top_down_and_the_parent_is_picked_from_it(gateway: Gateway) -> None:
    await seed(gateway)  # codes HN (province) > XA1 (commune) > T1, T2, T3 (villages)
    client = await console(gateway, "admin", gateway.admin_password)
    page = (await client.get("/admin")).text
    form = {"csrf_token": csrf_of(page), "code": "AA", "name": "Thôn Ấp Mới", "level": "village", "parent": "XA1"}
    r = await client.post("/admin/areas", data=form)
    assert "error" not in r.headers["location"]
    page = (await client.get("/admin")).text
    block = re.search(r'<ul class="tree">(.*?)</ul>', page, re.S)
    assert block
    tree = re.findall(r'<li class="level-\w+">([^<]+) <small>', block[1])
    assert [t.strip() for t in tree] == ["Hà Nội", "Xã Một", "Thôn Ấp Mới", "Thôn Ba", "Thôn Hai", "Thôn Một"]
    picker = re.search(r'<select name="parent">(.*?)</select>', page, re.S)
    assert picker and 'value="XA1"' in picker[1] and 'value="HN"' in picker[1] and 'value="T1"' not in picker[1]


async def test_the_list_says_when_a_scheduled_bulletin_is_failing_and_what_waits_for_approval(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, csrf = users["bientap"]
    h = {"X-CSRF-Token": csrf}
    outage = {"title": "Mất điện", "body": "Mất điện 7 giờ.", "targets": FILE_T1}
    made = await editor.post("/api/v1/bulletins", json=outage, headers=h)
    bid = made.json()["id"]
    await editor.post(f"/api/v1/bulletins/{bid}/submit", headers=h)
    async with gateway.services.sessions() as session:
        bulletin = await session.get(Bulletin, bid)
        assert bulletin is not None
        bulletin.status = "scheduled"  # what the list said while the LAN speaker stayed busy
        session.add_all([
            Delivery(bulletin_id=bid, channel="loudspeaker", target="LOA-1", state="failed", detail="loa bận"),
            Delivery(bulletin_id=bid, channel="loudspeaker", target="LOA-2", state="retry"),
        ])
        await session.commit()
    meeting = {"title": "Họp dân", "body": "Họp 8 giờ.", "targets": FILE_T1}
    other = await editor.post("/api/v1/bulletins", json=meeting, headers=h)
    assert (await editor.post(f"/api/v1/bulletins/{other.json()['id']}/submit", headers=h)).status_code == 200
    approver = await console(gateway, "duyet")
    page = (await approver.get("/")).text
    row = re.search(rf'<a href="/bulletins/{bid}">.*?</tr>', page, re.S)
    assert row and "Đã lên lịch" in row[0] and "1 lượt lỗi, 1 lượt đang thử lại" in row[0]
    assert "1 bản tin đang chờ bạn duyệt" in page  # the one still submitted
    assert "chờ bạn duyệt" not in (await (await console(gateway, "bientap")).get("/")).text  # approvers only


async def test_an_operator_is_told_before_writing_and_a_bulletin_is_copied_into_a_new_draft(gateway: Gateway) -> None:
    await seed(gateway)
    operator = await console(gateway, "vanhanh")
    r = await operator.get("/bulletins/new", headers={"Accept": "text/html"})
    assert r.status_code == 403 and "Vai trò Vận hành không soạn bản tin" in r.text and 'name="title"' not in r.text
    assert 'href="/bulletins/new"' not in (await operator.get("/")).text
    editor = await console(gateway, "bientap")
    csrf = csrf_of((await editor.get("/bulletins/new")).text)
    form = {"csrf_token": csrf, "title": "Tiêm phòng dại", "body": "Sáng thứ hai.", "targets": ["file:T1"]}
    original = (await editor.post("/bulletins/new", data=form)).headers["location"].split("?")[0]
    r = await editor.post(f"{original}/copy", data={"csrf_token": csrf})
    copy = r.headers["location"]
    assert copy != original + "?saved=1" and copy.endswith("?saved=1")
    page = (await editor.get(copy)).text
    assert 'value="Tiêm phòng dại (bản sao)"' in page and "Sáng thứ hai." in page and "Bản nháp" in page
    assert re.search(r'value="file:T1"\s+checked', page)


async def test_a_new_user_needs_a_role_chosen(gateway: Gateway) -> None:
    await seed(gateway)
    admin = await console(gateway, "admin", gateway.admin_password)
    page = (await admin.get("/admin")).text
    assert '<option value="" selected disabled>— chọn vai trò —</option>' in page
    form = {"csrf_token": csrf_of(page), "username": "moi", "password": "mat-khau-dai-9"}
    r = await admin.post("/admin/users", data=form)
    assert "H%C3%A3y%20ch%E1%BB%8Dn%20vai%20tr%C3%B2" in r.headers["location"]  # "Hãy chọn vai trò..."


async def test_an_administrator_corrects_and_switches_off_a_device(gateway: Gateway) -> None:
    await seed(gateway)
    admin = await console(gateway, "admin", gateway.admin_password)
    csrf = csrf_of((await admin.get("/devices")).text)
    new = {"csrf_token": csrf, "code": "LOA-T1", "name": "Loa đầu thôn", "area": "T1", "kind": "pull"}
    assert (await admin.post("/devices", data=new)).status_code == 200  # the token page
    edit = {"csrf_token": csrf, "name": "Loa cổng chợ", "area": "T2", "windows": "05:30-07:00"}
    r = await admin.post("/devices/LOA-T1/edit", data=edit)  # "enabled" unticked: switched off
    assert "error" not in r.headers["location"]
    async with gateway.services.sessions() as session:
        device = (await session.execute(select(Device).where(Device.code == "LOA-T1"))).scalar_one()
        area = await session.get(Area, device.area_id)
        assert (device.name, area and area.code, device.windows, device.enabled) == (
            "Loa cổng chợ", "T2", "05:30-07:00", False)
    row = re.search(r"<tr class=\"[^\"]*off\">(.*?)</tr>", (await admin.get("/devices")).text, re.S)
    assert row and "Loa cổng chợ" in row[1] and "đã tắt" in row[1]
    bad = await admin.post("/devices/LOA-T1/edit", data={**edit, "windows": "sáng sớm", "enabled": "true"})
    assert "Khung%20gi%E1%BB%9D" in bad.headers["location"]  # "Khung giờ có dạng ...": a sentence
    editor = await console(gateway, "bientap")
    token = csrf_of((await editor.get("/bulletins/new")).text)
    r = await editor.post("/devices/LOA-T1/edit", data={**edit, "csrf_token": token})
    assert "error" in r.headers["location"]


async def test_a_usual_notice_starts_from_a_template(gateway: Gateway) -> None:
    await seed(gateway)
    editor = await console(gateway, "bientap")
    page = (await editor.get("/bulletins/new")).text
    for label in ("Mất điện", "Tiêm phòng", "Họp dân", "Bão lũ", "Thu thuế"):
        assert f">{label}</a>" in page
    page = (await editor.get("/bulletins/new?mau=bao-lu")).text
    assert 'value="Cảnh báo bão lũ"' in page and "[điểm sơ tán]" in page
    assert re.search(r'<option value="priority"\s+selected>', page)  # a storm warning is a priority notice
