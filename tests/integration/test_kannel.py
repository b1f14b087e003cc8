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
from gateway.sms.kannel import KannelConfig, KannelTransport, callback_key
from tests.support.kannel import start_kannel
from tests.support.server import admin_password, free_port, start_server


def wait_for(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.fixture
def stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    port, data = free_port(), tmp_path / "data"
    kannel = None
    # The gateway's secret decides the callback key: create it first, then configure Kannel.
    data.mkdir()
    (data / "secret_key").write_text("test-secret-for-kannel", encoding="utf-8")
    key = callback_key("test-secret-for-kannel")
    kannel = start_kannel(tmp_path, f"http://127.0.0.1:{port}/sms/kannel/mo?key={key}")
    env = {
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
        results = [
            await transport.send("+84912345678", text, f"t{i}")
            for i, text in enumerate(("Thông báo: họp dân lúc 15h tại nhà văn hóa thôn.", "Hop dan luc 15h"))
        ]
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
