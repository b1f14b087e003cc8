"""SMS through a real Kannel (bearerbox + smsbox, fake SMSC, fakesmsc as the operator):
Vietnamese MT arrives intact as UCS-2 (Kannel user guide: sendsms coding=2 + charset),
a resident's UCS-2 MO reaches the gateway through sms-service get-url, is filed as a case,
and the ticket code goes back to the resident by SMS."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from gateway.feedback.ticket import is_valid
from gateway.sms.codec import split_udh, wire_parts
from gateway.sms.kannel import KannelConfig, KannelTransport, callback_key
from gateway.sms.transport import OutPart
from tests.support.kannel import start_kannel
from tests.support.server import admin_password, free_port, start_server, wait_for


@pytest.fixture
def stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    port, data = free_port(), tmp_path / "data"
    kannel = None
    # The gateway's secret decides the callback key: create it first, then configure Kannel.
    data.mkdir()
    (data / "secret_key").write_text("test-secret-for-kannel", encoding="utf-8")
    key = callback_key("test-secret-for-kannel")
    kannel = start_kannel(tmp_path, f"http://127.0.0.1:{port}/sms/kannel/mo?key={key}")
    config = tmp_path / "loa.toml"  # the tests run at any hour: no quiet hours
    config.write_text('[quiet_hours.sms]\nstart = "00:00"\nend = "00:00"\n', encoding="utf-8")
    env = {
        "LOA_CONFIG": str(config),
        "LOA_KANNEL_SENDSMS_URL": kannel.sendsms_url,
        "LOA_KANNEL_USERNAME": "gw",
        "LOA_KANNEL_PASSWORD": "gwpass",
        "LOA_SMS_SENDER": "8088",
    }
    server = start_server(data, port, tmp_path / "serve.log", env=env)
    operator = kannel.operator()
    time.sleep(1.0)  # fakesmsc connects to bearerbox
    yield kannel, operator, f"http://127.0.0.1:{port}", admin_password(tmp_path / "serve.log")
    server.terminate()
    server.wait(timeout=30)
    kannel.stop()


def test_vietnamese_mt_arrives_intact_as_ucs2_and_gsm7_stays_7bit(stack) -> None:  # type: ignore[no-untyped-def]
    kannel, operator, _, _ = stack

    async def send() -> list[bool]:
        transport = KannelTransport(KannelConfig(kannel.sendsms_url, "gw", "gwpass", "UBNDXA"))
        results = []
        for i, text in enumerate(("Thông báo: họp dân lúc 15h tại nhà văn hóa thôn.", "Hop dan luc 15h")):
            (part,) = wire_parts(text, 0)
            results.append(await transport.submit(OutPart("+84912345678", part, f"t{i}.1")))
        await transport.close()
        return [r.accepted for r in results]

    assert asyncio.run(send()) == [True, True]
    got = wait_for(lambda: operator.received() if len(operator.received()) >= 2 else None)
    texts = [text for _, _, text in got]
    assert "Thông báo: họp dân lúc 15h tại nhà văn hóa thôn." in texts
    assert "Hop dan luc 15h" in texts
    assert all(receiver == "84912345678" and sender == "UBNDXA" for sender, receiver, _ in got)


def test_resident_sms_becomes_a_case_and_gets_its_ticket_back(stack) -> None:  # type: ignore[no-untyped-def]
    _, operator, base, password = stack
    operator.send_mo("84912345678", "8088", "ucs2", quote("PA đường vào thôn ngập sâu".encode("utf-16-be")))
    reply = wait_for(lambda: [t for _, to, t in operator.received() if to == "84912345678"])[0]
    ticket = next(word.rstrip(".") for word in reply.split() if word.rstrip(".").isdigit())
    assert is_valid(ticket)
    with httpx.Client(base_url=base) as admin:
        admin.post("/api/v1/auth/login", json={"username": "admin", "password": password})
        case = admin.get(f"/api/v1/cases/{ticket}").json()
    assert case["channel"] == "sms" and case["caller"] == "+84912345678"
    assert case["text"] == "đường vào thôn ngập sâu"


def test_callbacks_without_the_key_are_refused(stack) -> None:  # type: ignore[no-untyped-def]
    _, _, base, _ = stack
    r = httpx.get(f"{base}/sms/kannel/mo", params={"from": "84912345678", "text": "PA giả mạo", "key": "sai"})
    assert r.status_code == 403


def test_bulletin_sms_reaches_the_subscribers_of_an_area(stack) -> None:  # type: ignore[no-untyped-def]
    _, operator, base, password = stack
    with httpx.Client(base_url=base) as admin:
        csrf = admin.post("/api/v1/auth/login", json={"username": "admin", "password": password}).json()["csrf_token"]
        h = {"X-CSRF-Token": csrf}
        admin.post("/api/v1/areas", headers=h, json={"code": "XA", "name": "Xã Hòa Bình", "level": "commune"})
        admin.post(
            "/api/v1/areas", headers=h, json={"code": "T1", "name": "Thôn Một", "level": "village", "parent": "XA"}
        )
        admin.post(
            "/api/v1/users", headers=h, json={"username": "duyet", "role": "approver", "password": "mat-khau-dai-1"}
        )
        # Residents register by SMS; one changes her mind.
        messages = (
            ("84912000001", "DK T1"),
            ("84912000002", "dk thôn một"),
            ("84912000003", "DK Hòa Bình"),
            ("84912000002", "HUY"),
        )
        for n, (phone, text) in enumerate(messages, start=1):
            operator.send_mo(phone, "8088", "text", text)  # fakesmsc takes one line per read: wait for each reply
            wait_for(lambda n=n: len(operator.received()) >= n)
        sms = "Thông báo: mất điện từ 14h đến 16h chiều nay."
        bid = admin.post(
            "/api/v1/bulletins",
            headers=h,
            json={
                "title": "Lịch cắt điện",
                "body": "Chiều nay mất điện từ 14h đến 16h.",
                "sms_text": sms,
                "targets": [{"channel": "sms", "area": "XA"}],
            },
        ).json()["id"]
        admin.post(f"/api/v1/bulletins/{bid}/submit", headers=h)
        with httpx.Client(base_url=base) as approver:
            acsrf = approver.post(
                "/api/v1/auth/login", json={"username": "duyet", "password": "mat-khau-dai-1"}
            ).json()["csrf_token"]
            approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": acsrf})
            approver.post(f"/api/v1/bulletins/{bid}/schedule", json={}, headers={"X-CSRF-Token": acsrf})
        wait_for(lambda: admin.get(f"/api/v1/bulletins/{bid}").json()["status"] == "done", timeout=60)
        to_whom = lambda: [to for _, to, text in operator.received() if text == sms]  # noqa: E731
        got = wait_for(lambda: to_whom() if len(to_whom()) >= 2 else None, timeout=60)
        time.sleep(1.0)  # time enough for a third message, which must not come
        rows = admin.get(f"/api/v1/bulletins/{bid}/deliveries").json()["rows"]
    assert sorted(got) == sorted(to_whom()) == ["84912000001", "84912000003"]  # the opted-out number got nothing
    assert sorted(r["target"] for r in rows) == ["+84912000001", "+84912000003"]
    assert all(r["state"] in ("sent", "delivered") for r in rows)


def test_long_bulletin_goes_out_part_by_part_each_with_its_udh_and_its_own_receipt(stack) -> None:  # type: ignore[no-untyped-def]
    """Kannel user guide, sendsms ``udh``: each part carries its own 05 00 03 header and
    dlr-url, so the fake SMSC's final report (type 1) arrives for every part."""
    _, operator, base, password = stack
    sms = (
        "Thông báo khẩn: bão số 9 đổ bộ đêm nay, gió giật cấp 12. Bà con thôn Đông di chuyển đến "
        "nhà văn hóa xã trước 17 giờ, mang theo giấy tờ, thuốc men và lương thực cho 3 ngày."
    )
    with httpx.Client(base_url=base) as admin:
        csrf = admin.post("/api/v1/auth/login", json={"username": "admin", "password": password}).json()["csrf_token"]
        h = {"X-CSRF-Token": csrf}
        admin.post("/api/v1/areas", headers=h, json={"code": "XA", "name": "Xã Hòa Bình", "level": "commune"})
        operator.send_mo("84912000009", "8088", "text", "DK XA")
        wait_for(lambda: len(operator.received()) >= 1)
        bid = admin.post(
            "/api/v1/bulletins",
            headers=h,
            json={
                "title": "Bão số 9",
                "body": sms,
                "sms_text": sms,
                "priority": "emergency",
                "targets": [{"channel": "sms", "area": "XA"}],
            },
        ).json()["id"]
        admin.post(f"/api/v1/bulletins/{bid}/emergency", headers=h)
        mine = lambda: [p for p in operator.parts() if p[0] == "84912000009"]  # noqa: E731
        parts = wait_for(lambda: mine() if len(mine()) >= 3 else None, timeout=60)
        settled = lambda: admin.get(f"/api/v1/bulletins/{bid}/deliveries").json()["rows"]  # noqa: E731
        rows = wait_for(lambda: [r for r in settled() if r["state"] == "delivered"] or None, timeout=30)
    assert len(parts) == 3  # 212 accented letters: UCS-2, 67 per part
    headers = [split_udh(udh + data)[0] for _, udh, data in parts]
    assert [(h.total, h.seq) for h in headers if h] == [(3, 1), (3, 2), (3, 3)]
    assert len({h.reference for h in headers if h}) == 1
    assert b"".join(data for _, _, data in parts).decode("utf-16-be") == sms
    assert rows[0]["target"] == "+84912000009" and rows[0]["reference"] == "3 phần"
