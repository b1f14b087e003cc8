"""The officer's console, as RapidPro and the vendor loudspeaker portals taught officers
to expect it: a week calendar of what airs where, notice templates an administrator
edits, groups of subscribers, an Excel import, delivery statistics per channel, and
approvers told what waits for them (HTML over ASGI, in-process, SQLite)."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from gateway.bulletins.schedule import LOCAL
from gateway.db.models import Bulletin, Delivery, NoticeTemplate, Subscriber
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_console_pages import FILE_T1, console, csrf_of

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("gateway", ["sqlite"], indirect=True)]


async def approved(gateway: Gateway, title: str) -> int:
    users = await seed(gateway)
    editor, csrf = users["bientap"]
    made = await editor.post(
        "/api/v1/bulletins",
        json={"title": title, "body": "Nội dung.", "targets": FILE_T1},
        headers={"X-CSRF-Token": csrf},
    )
    bid = int(made.json()["id"])
    await editor.post(f"/api/v1/bulletins/{bid}/submit", headers={"X-CSRF-Token": csrf})
    approver, token = users["duyet"]
    assert (await approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": token})).status_code == 200
    return bid


def day_block(page: str, day: str) -> str:
    found = re.search(rf'<section class="day[^"]*" aria-labelledby="d-{day}".*?</section>', page, re.S)
    assert found, f"the week shows {day}"
    return found[0]


async def test_the_week_calendar_shows_a_recurrence_at_each_of_its_times_and_pauses_it(gateway: Gateway) -> None:
    bid = await approved(gateway, "Lịch tiêm phòng dại")
    tomorrow = datetime.now(LOCAL).date() + timedelta(days=1)
    first = datetime.combine(tomorrow, datetime.min.time().replace(hour=6), LOCAL)
    approver = await console(gateway, "duyet")
    csrf = csrf_of((await approver.get("/")).text)
    r = await approver.post(
        f"/bulletins/{bid}/action",
        data={"csrf_token": csrf, "action": "schedule", "run_at": first.strftime("%Y-%m-%dT%H:%M"),
              "recurrence": "06:00, 17:00"},
    )  # fmt: skip
    wrong = await approver.post(
        f"/bulletins/{bid}/action", data={"csrf_token": csrf, "action": "schedule", "recurrence": "6 giờ sáng"}
    )
    shown = (await approver.get(wrong.headers["location"])).text
    assert "Giờ lặp lại hằng ngày viết dạng 06:00, 17:00" in shown and "daily" not in shown
    assert "error" not in r.headers["location"]  # "Lặp lại hằng ngày lúc": the times, as an officer types them
    audit = (await approver.get("/audit")).text
    assert "từ: Đã duyệt; sang: Đã lên lịch" in audit and "lặp lại: hằng ngày lúc 06:00, 17:00" in audit
    assert f"phát lúc: 06:00 {tomorrow.strftime('%d/%m/%Y')}" in audit and "daily" not in audit
    page = (await approver.get(f"/lich?tuan={tomorrow.isoformat()}")).text
    block = day_block(page, tomorrow.isoformat())
    assert block.count("Lịch tiêm phòng dại") == 2 and ">06:00<" in block and ">17:00<" in block
    assert "Tệp âm thanh: Thôn Một" in block  # where it airs, in words
    recurring = re.search(r'id="recurring">(.*?)</div>\s*{?', page, re.S)
    assert recurring and "hằng ngày lúc 06:00, 17:00" in recurring[1] and "daily" not in page
    assert f"06:00 {tomorrow.strftime('%d/%m/%Y')}" in recurring[1]  # its next times
    assert f'href="/bulletins/{bid}#stop"' in recurring[1]  # the stop, with its reason, on the bulletin's page
    schedule_id = re.search(rf'action="/bulletins/{bid}/schedules/(\d+)"', page)
    assert schedule_id
    r = await approver.post(
        f"/bulletins/{bid}/schedules/{schedule_id[1]}",
        data={"csrf_token": csrf, "action": "pause", "next": f"/lich?tuan={tomorrow.isoformat()}"},
    )
    assert r.headers["location"] == f"/lich?tuan={tomorrow.isoformat()}"  # back to the calendar
    page = (await approver.get(r.headers["location"])).text
    assert "tạm dừng" in day_block(page, tomorrow.isoformat()) and ">Tiếp tục</button>" in page
    before = (await approver.get(f"/lich?tuan={(tomorrow - timedelta(days=7)).isoformat()}")).text
    grid = re.search(r'<div class="week" id="week">(.*?)<div class="card" id="recurring">', before, re.S)
    assert grid and "Lịch tiêm phòng dại" not in grid[1]  # the week before: nothing of it yet


async def test_the_calendar_shows_what_went_out_from_the_ledger(gateway: Gateway) -> None:
    bid = await approved(gateway, "Họp dân thôn Một")
    async with gateway.services.sessions() as session:
        session.add_all([
            Delivery(bulletin_id=bid, channel="file", target="T1", state="delivered"),
            Delivery(bulletin_id=bid, channel="loudspeaker", target="LOA-1", state="failed", detail="loa bận"),
        ])  # fmt: skip
        await session.commit()
    client = await console(gateway, "vanhanh")
    today = datetime.now(LOCAL).date()
    block = day_block((await client.get("/lich")).text, today.isoformat())
    assert "Họp dân thôn Một" in block and "Đã nhận 1" in block and "Lỗi 1" in block
    assert 'aria-current="date"' in block


async def test_an_administrator_edits_adds_and_switches_off_notice_templates(gateway: Gateway) -> None:
    await seed(gateway)
    async with gateway.services.sessions() as session:  # seeded by the migration
        slugs = [t.slug for t in (await session.execute(select(NoticeTemplate).order_by(NoticeTemplate.id))).scalars()]
    assert slugs == ["mat-dien", "tiem-phong", "hop-dan", "bao-lu", "thu-thue"]
    admin = await console(gateway, "admin", gateway.admin_password)
    page = (await admin.get("/mau")).text
    storm = re.search(r'action="/mau/(\d+)">(?:(?!</form>).)*value="bao-lu"', page, re.S)
    assert storm
    edited = {"csrf_token": csrf_of(page), "slug": "bao-lu", "label": "Bão lũ", "title": "Cảnh báo bão số [số]",
              "body": "Bão số [số] vào [thời gian].", "priority": "priority"}  # fmt: skip
    r = await admin.post(f"/mau/{storm[1]}", data=edited)  # "enabled" unticked: switched off
    assert "error" not in r.headers["location"]
    new = {**edited, "slug": "mat-nuoc", "label": "Mất nước", "title": "Lịch cắt nước", "body": "Cắt nước [giờ].",
           "priority": "normal", "enabled": "true"}  # fmt: skip
    assert "error" not in (await admin.post("/mau", data=new)).headers["location"]
    twice = await admin.post("/mau", data=new)
    assert "%C4%90%C3%A3%20c%C3%B3%20m%E1%BA%ABu" in twice.headers["location"]  # "Đã có mẫu mã 'mat-nuoc'"
    editor = await console(gateway, "bientap")
    composer = (await editor.get("/bulletins/new")).text
    assert ">Mất nước</a>" in composer and ">Bão lũ</a>" not in composer and ">Mất điện</a>" in composer
    assert 'value="Lịch cắt nước"' in (await editor.get("/bulletins/new?mau=mat-nuoc")).text
    assert 'value="Cảnh báo bão lũ"' not in (await editor.get("/bulletins/new?mau=bao-lu")).text
    refused = await editor.post(f"/mau/{storm[1]}", data={**edited, "csrf_token": csrf_of(composer)})
    assert "error" in refused.headers["location"]  # only administrators edit templates
    assert 'action="/mau' not in (await editor.get("/mau")).text


async def test_a_group_of_subscribers_is_made_filled_with_reasons_and_exported(gateway: Gateway) -> None:
    await seed(gateway)
    async with gateway.services.sessions() as session:
        session.add_all([Subscriber(phone="+84912345678", source="import"), Subscriber(phone="+84912345679")])
        await session.commit()
    editor = await console(gateway, "bientap")
    csrf = csrf_of((await editor.get("/nhom")).text)
    r = await editor.post("/nhom", data={"csrf_token": csrf, "name": "Cộng tác viên y tế"})
    group = r.headers["location"]
    assert re.fullmatch(r"/nhom/\d+", group)
    r = await editor.post(
        f"{group}/them", data={"csrf_token": csrf, "phones": "0912345678\n12345\n0987000111\n0912345678"}
    )
    assert "Đã thêm 1 số, 3 dòng không nhận" in r.text
    rejected = re.search(r'id="rejected">(.*?)</table>', r.text, re.S)
    assert rejected and "không phải số điện thoại" in rejected[1]
    assert "chưa có trong danh sách người nhận tin" in rejected[1] and "đã ở trong nhóm" in rejected[1]
    export = await editor.get(f"{group}/xuat.csv")
    assert export.headers["content-type"].startswith("text/csv")
    assert export.content.decode("utf-8-sig").splitlines()[1:] == ["+84912345678,—,đang nhận tin"]
    filtered = (await editor.get(f"/subscribers?nhom={group.rsplit('/', 1)[1]}")).text  # the group as a filter
    assert "+84912345678" in filtered and "+84912345679" not in filtered and "1 số" in filtered
    listing = (await editor.get("/nhom")).text
    assert "Cộng tác viên y tế" in listing and re.search(r'data-label="Thành viên">1<', listing)
    async with gateway.services.sessions() as session:
        sid = (await session.execute(select(Subscriber.id).where(Subscriber.phone == "+84912345678"))).scalar_one()
    await editor.post(f"{group}/bo", data={"csrf_token": csrf, "subscriber": str(sid)})
    assert "Nhóm chưa có ai." in (await editor.get(group)).text
    operator = await console(gateway, "vanhanh")
    assert (await operator.get(f"{group}/xuat.csv", headers={"Accept": "text/html"})).status_code == 403


async def test_an_excel_file_is_imported_with_a_reason_per_rejected_row(gateway: Gateway) -> None:
    await seed(gateway)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (("Số điện thoại", "Mã địa bàn"), (912345678, "T1"), ("0912 345 679", None), ("12345", "T1"),
                ("0913000000", "ZZ"), (None, None), (912345678, "T2")):  # fmt: skip
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    client = await console(gateway, "bientap")
    csrf = csrf_of((await client.get("/subscribers")).text)
    r = await client.post(
        "/subscribers/import",
        data={"csrf_token": csrf, "area": "T2"},
        files={"file": ("danh-sach.xlsx", data.getvalue(), "application/octet-stream")},
    )
    assert "Thêm mới 2 số" in r.text and "3 dòng không nhận" in r.text  # Excel dropped the leading 0: still a number
    rejected = re.search(r'id="rejected">(.*?)</table>', r.text, re.S)
    assert rejected
    assert re.search(r'data-label="Dòng">4</td>.*?không phải số điện thoại', rejected[1], re.S)
    assert re.search(r'data-label="Dòng">5</td>.*?không có địa bàn mã', rejected[1], re.S)
    assert re.search(r'data-label="Dòng">7</td>.*?trùng số với dòng 2', rejected[1], re.S)
    broken = await client.post(
        "/subscribers/import", data={"csrf_token": csrf}, files={"file": ("hong.xlsx", b"PK\x03\x04rac", "x")}
    )
    assert "Không đọc được tệp Excel" in broken.text


async def test_the_bulletin_page_counts_deliveries_per_channel_in_words(gateway: Gateway) -> None:
    bid = await approved(gateway, "Thu thuế đất")
    async with gateway.services.sessions() as session:
        session.add_all(
            [Delivery(bulletin_id=bid, channel="sms", target=f"+8491234567{i}", state=s)
             for i, s in enumerate(("delivered", "delivered", "failed", "sent", "pending", "unknown"))]
            + [Delivery(bulletin_id=bid, channel="file", target="T1", state="delivered")]
        )  # fmt: skip
        await session.commit()
    page = (await (await console(gateway, "duyet")).get(f"/bulletins/{bid}")).text
    stats = re.search(r'id="delivery-stats">(.*?)</table>', page, re.S)
    assert stats
    sms = re.search(r"Tin nhắn SMS</strong></td>(.*?)</tr>", stats[1], re.S)
    assert sms
    cells = dict(re.findall(r'data-label="([^"]+)" class="stat-\w+">(\d+)<', sms[1]))
    assert cells == {"Đã nhận": "2", "Lỗi": "1", "Đang chờ": "2", "Không rõ kết quả": "1", "Đã hủy, hết hạn": "0"}
    assert "6 (33% đã nhận)" in sms[1]


async def test_approvers_see_what_waits_for_them_in_the_menu_and_on_the_home_page(gateway: Gateway) -> None:
    users = await seed(gateway)
    editor, csrf = users["bientap"]
    made = await editor.post(
        "/api/v1/bulletins", json={"title": "Cắt điện thôn Hai", "body": "Sáng mai.", "targets": FILE_T1},
        headers={"X-CSRF-Token": csrf},
    )  # fmt: skip
    bid = made.json()["id"]
    await editor.post(f"/api/v1/bulletins/{bid}/submit", headers={"X-CSRF-Token": csrf})
    approver = await console(gateway, "duyet")
    for path in ("/", "/lich", "/subscribers"):  # the badge on every page
        badge = re.search(r'id="menu-waiting">(\d+)<span class="sr"> chờ duyệt', (await approver.get(path)).text)
        assert badge and badge[1] == "1", path
    home = (await approver.get("/")).text
    queue = re.search(r'id="cho-duyet".*?</section>', home, re.S)
    assert queue and f'href="/bulletins/{bid}">Duyệt: Cắt điện thôn Hai</a>' in queue[0]
    async with gateway.services.sessions() as session:
        bulletin = await session.get(Bulletin, bid)
        assert bulletin is not None
    writer = (await (await console(gateway, "bientap")).get("/")).text
    assert 'id="menu-waiting"' not in writer and 'id="cho-duyet"' not in writer  # approvers only
