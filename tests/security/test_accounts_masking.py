"""Operators see masked phone numbers everywhere (issue 18, "Approval and accounts"):
delivery rows, the audit log, the case page and call attempts, as in the case list."""

from __future__ import annotations

import re

import pytest

from gateway.bulletins.service import audit
from gateway.db.models import CallAttempt, Delivery
from tests.gateway.conftest import Gateway
from tests.security.accounts_gateway import Clients, csrf, new_bulletin, ready

pytestmark = pytest.mark.asyncio
__all__ = ["ready"]

NUMBER, NATIONAL = "+84912345678", "0987654321"
DIGITS = re.compile(r"(912345678|987654321)")


async def _rows(gw: Gateway, bid: int) -> None:
    """What the SMS and call channels and the IVR leave behind, as they write it."""
    async with gw.services.sessions() as session:
        sms = Delivery(bulletin_id=bid, channel="sms", target=NUMBER, state="failed", detail=f"{NATIONAL} tắt máy")
        call = Delivery(bulletin_id=bid, channel="call", target=NUMBER, state="failed", reference=f"PJSIP/{NATIONAL}")
        session.add_all([sms, call])
        await session.flush()
        session.add(
            CallAttempt(call_id="loa-1", delivery_id=call.id, number=NUMBER, server="xa", detail=f"Dial {NATIONAL}")
        )
        await audit(session, "ivr", "opt_out", "subscriber", NUMBER, via="call")
        await audit(session, "kannel", "sms_mo", "sms", NATIONAL, ticket="ABC", sender=NUMBER)
        await session.commit()


async def test_operators_see_masked_numbers_in_deliveries_calls_and_the_audit_log(
    ready: tuple[Gateway, Clients],
) -> None:
    gw, clients = ready
    bid = await new_bulletin(clients)
    await _rows(gw, bid)
    operator, admin = clients["vanhanh"][0], clients["admin"][0]
    for path in (f"/api/v1/bulletins/{bid}/deliveries", f"/api/v1/bulletins/{bid}/calls", "/api/v1/audit"):
        shown = (await operator.get(path)).text
        assert "+8491****678" in shown or "098****321" in shown, path
        assert not DIGITS.search(shown), (path, shown)
        assert DIGITS.search((await admin.get(path)).text), path  # others see them whole
    for page in (f"/bulletins/{bid}", "/audit"):
        html = (await operator.get(page)).text
        assert "+8491****678" in html, page
        assert not DIGITS.search(html), page
        assert DIGITS.search((await admin.get(page)).text), page


async def test_operators_see_a_masked_number_on_the_case_page(ready: tuple[Gateway, Clients]) -> None:
    gw, clients = ready
    admin = clients["admin"][0]
    r = await admin.post(
        "/api/v1/cases", json={"text": "Đèn đường hỏng", "caller": NUMBER}, headers=csrf(clients, "admin")
    )
    assert r.status_code == 201, r.text
    ticket = r.json()["ticket"]
    # The call-back form shows when a telephony channel exists; any channel object will do for the page.
    gw.services.channels["call"] = gw.services.channels["file"]
    html = (await clients["vanhanh"][0].get(f"/cases/{ticket}")).text
    assert "Gọi điện trả lời" in html and "+8491****678" in html
    assert not DIGITS.search(html)
    assert NUMBER in (await admin.get(f"/cases/{ticket}")).text
