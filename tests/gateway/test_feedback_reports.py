"""Feedback reports: received vs processed per area and period, median time to answer, on-time
rate and top categories; JSON, CSV (read back with csv) and XLSX (read back with openpyxl)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import update

from gateway.bulletins.schedule import LOCAL
from gateway.db.models import Case
from tests.gateway.conftest import Gateway, seed

pytestmark = pytest.mark.asyncio


async def file(client, h, text: str, area: str | None) -> str:  # type: ignore[no-untyped-def]
    body = {"text": text, "caller": "0912345678"} | ({"area": area} if area else {})
    r = await client.post("/api/v1/cases", json=body, headers=h)
    assert r.status_code == 201, r.text
    return str(r.json()["ticket"])


async def test_received_processed_timing_and_exports(gateway: Gateway) -> None:
    users = await seed(gateway)
    client, csrf = users["duyet"]
    h = {"X-CSRF-Token": csrf}
    t1 = [await file(client, h, f"Rác thải ở bãi sông số {i}", "T1") for i in range(3)]
    t2 = [await file(client, h, "Đường liên thôn bị ngập sâu", "T2"), await file(client, h, "Mất điện cả đêm", "T2")]
    loose = await file(client, h, "Hỏi thủ tục làm giấy khai sinh", None)
    # Answer two cases of T1 after 2 h and 6 h; reject one of T2; one T2 case is open and overdue.
    for ticket in (t1[0], t1[1]):
        for step in ({"to": "assigned", "assignee": "Ban môi trường"}, {"to": "answered", "answer": "Đã xử lý"}):
            r = await client.post(f"/api/v1/cases/{ticket}/transition", json=step, headers=h)
            assert r.status_code == 200, r.text
    await client.post(
        f"/api/v1/cases/{t2[0]}/transition", json={"to": "rejected", "reason": "không thuộc thẩm quyền"}, headers=h
    )
    now = datetime.now(LOCAL)
    async with gateway.services.sessions() as s:
        for ticket, hours, due in ((t1[0], 2, 48), (t1[1], 6, 4)):  # the second one answered late
            created = now - timedelta(hours=10)
            await s.execute(
                update(Case)
                .where(Case.ticket == ticket)
                .values(
                    created_at=created,
                    answered_at=created + timedelta(hours=hours),
                    sla_due_at=created + timedelta(hours=due),
                )
            )
        await s.execute(update(Case).where(Case.ticket == t2[1]).values(sla_due_at=now - timedelta(hours=1)))
        await s.commit()

    today, yesterday = now.date().isoformat(), (now.date() - timedelta(days=1)).isoformat()
    period = f"start={yesterday}&end={today}"  # two cases were moved ten hours back
    report = (await client.get(f"/api/v1/reports/feedback?{period}")).json()
    areas = {row["area"]: row for row in report["areas"]}
    assert (areas["T1"]["received"], areas["T1"]["processed"], areas["T1"]["processed_pct"]) == (3, 2, 66.7)
    assert areas["T1"]["median_answer_hours"] == 4.0 and areas["T1"]["on_time_pct"] == 50.0
    assert (areas["T2"]["received"], areas["T2"]["processed"], areas["T2"]["overdue_open"]) == (2, 1, 1)
    assert areas[None]["name"] == "Chưa rõ địa bàn" and areas[None]["received"] == 1
    total = report["total"]
    assert (total["received"], total["processed"], total["open"]) == (6, 3, 3)
    assert report["categories"][0] == {"category": "moi_truong", "name": "Môi trường", "received": 3}
    assert sum(d["received"] for d in report["days"]) == 6 and loose

    raw = (await client.get(f"/api/v1/reports/feedback?{period}&format=csv")).content
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with a BOM
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[1][:4] == ["Mã địa bàn", "Địa bàn", "Tiếp nhận", "Đã xử lý"]
    assert ["T1", "Thôn Một", "3", "2", "66.7"] == rows[2][:5]

    data = (await client.get(f"/api/v1/reports/feedback?{period}&format=xlsx")).content
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Theo địa bàn", "Lĩnh vực", "Theo ngày"]
    sheet = book["Theo địa bàn"]
    assert [c.value for c in sheet[4]][:4] == ["T1", "Thôn Một", 3, 2]
    assert [c.value for c in sheet[7]][:4] == ["*", "Tổng cộng", 6, 3]
    assert len(sheet._charts) == 1  # received vs processed per area
    assert book["Lĩnh vực"]["A2"].value == "Môi trường" and book["Lĩnh vực"]["B2"].value == 3

    page = await client.get(f"/reports?{period}")
    assert page.status_code == 200 and "tiếp nhận <strong>6</strong>" in page.text and "<svg" in page.text


async def test_a_bad_period_names_the_field(gateway: Gateway) -> None:
    users = await seed(gateway)
    client, _ = users["duyet"]
    for query, field in (
        ("start=01/11/2026", "start"),
        ("start=2026-11-01&end=2026-10-01", "end"),
        ("start=2024-01-01&end=2026-01-01", "end"),
    ):
        r = await client.get(f"/api/v1/reports/feedback?{query}")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, query
    assert (await client.get("/api/v1/reports/feedback")).json()["total"]["received"] == 0  # this month by default
