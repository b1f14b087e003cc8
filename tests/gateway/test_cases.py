"""Feedback cases through the API: ticket codes, lifecycle, duplicates, concurrent edits."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import Gateway, seed

pytestmark = pytest.mark.asyncio


async def test_case_lifecycle_with_ticket_lookup(gateway: Gateway) -> None:
    users = await seed(gateway)
    officer, csrf = users["bientap"]
    h = {"X-CSRF-Token": csrf}
    r = await officer.post(
        "/api/v1/cases",
        headers=h,
        json={"text": "Rác thải đổ trộm ở đầu thôn, mùi hôi", "caller": "0912 345 678", "area": "T1"},
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["category"] == "moi_truong" and case["caller"] == "+84912345678" and case["status"] == "new"
    ticket = case["ticket"]
    r = await officer.post(f"/api/v1/cases/{ticket}/transition", headers=h, json={"to": "answered", "answer": "x"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "status"
    r = await officer.post(f"/api/v1/cases/{ticket}/transition", headers=h, json={"to": "assigned"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "assignee"
    for step in (
        {"to": "assigned", "assignee": "Ban địa chính - môi trường"},
        {"to": "in_progress"},
        {"to": "answered", "answer": "Xã đã cho thu gom rác sáng nay."},
        {"to": "closed"},
    ):
        r = await officer.post(f"/api/v1/cases/{ticket}/transition", headers=h, json=step)
        assert r.status_code == 200, r.text
    status = (await officer.get(f"/api/v1/cases/{ticket}/status")).json()["text"]
    assert ticket in status and "đã đóng" in status and "thu gom rác" in status
    operator, _ = users["vanhanh"]
    assert (await operator.get(f"/api/v1/cases/{ticket}")).json()["caller"] == "+8491****678"
    audit = (await users["admin"][0].get("/api/v1/audit")).json()
    assert [a["action"] for a in audit if a["entity_id"] == ticket][::-1] == [
        "file",
        "case_assigned",
        "case_in_progress",
        "case_answered",
        "case_closed",
    ]


async def test_bad_ticket_codes_are_refused_clearly(gateway: Gateway) -> None:
    users = await seed(gateway)
    officer, csrf = users["bientap"]
    ticket = (
        await officer.post("/api/v1/cases", json={"text": "Đèn đường hỏng"}, headers={"X-CSRF-Token": csrf})
    ).json()["ticket"]
    typo = ticket[:-1] + str((int(ticket[-1]) + 1) % 10)
    r = await officer.get(f"/api/v1/cases/{typo}")
    assert r.status_code == 422 and "số kiểm tra" in r.json()["errors"][0]["message"]
    unknown = "1000000"
    from gateway.feedback.ticket import check_digit

    r = await officer.get(f"/api/v1/cases/{unknown}{check_digit(unknown)}")
    assert r.status_code == 404


async def test_similar_open_cases_in_an_area_are_flagged(gateway: Gateway) -> None:
    users = await seed(gateway)
    officer, csrf = users["bientap"]
    h = {"X-CSRF-Token": csrf}
    first = (
        await officer.post("/api/v1/cases", headers=h, json={"text": "Đường vào thôn có nhiều ổ gà lớn", "area": "T2"})
    ).json()
    second = (
        await officer.post("/api/v1/cases", headers=h, json={"text": "Đường vào thôn nhiều ổ gà lớn quá", "area": "T2"})
    ).json()
    other = (
        await officer.post("/api/v1/cases", headers=h, json={"text": "Đường vào thôn có nhiều ổ gà lớn", "area": "T3"})
    ).json()
    assert second["possible_duplicate_of"] is not None and first["possible_duplicate_of"] is None
    assert other["possible_duplicate_of"] is None  # another area


async def test_concurrent_edits_are_detected(gateway: Gateway) -> None:
    users = await seed(gateway)
    officer, csrf = users["bientap"]
    h = {"X-CSRF-Token": csrf}
    case = (await officer.post("/api/v1/cases", headers=h, json={"text": "Mất nước ba ngày nay"})).json()
    ticket, version = case["ticket"], case["version"]
    r = await officer.put(
        f"/api/v1/cases/{ticket}/transcript", headers=h, json={"text": "Mất nước sạch", "version": version}
    )
    assert r.status_code == 200
    r = await officer.put(f"/api/v1/cases/{ticket}/transcript", headers=h, json={"text": "Khác", "version": version})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "version"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": "x", "caller": "123"}, "caller"),
        ({"text": "x", "area": "KHONG"}, "area"),
        ({"text": "x", "category": "khong_co"}, "category"),
        ({"text": "x" * 20_001}, "text"),
        ({"text": ""}, "text"),
    ],
)
async def test_bad_case_input_names_the_field(gateway: Gateway, payload: dict[str, str], field: str) -> None:
    users = await seed(gateway)
    officer, csrf = users["bientap"]
    r = await officer.post("/api/v1/cases", json=payload, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field
