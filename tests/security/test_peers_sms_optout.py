"""Issue 18: an opt-out (HUY by SMS, 9-9 by phone) stops bulletins, never emergencies.
Before, an opted-out number was left out of every campaign, emergency SMS included; a
forged FastAGI session could thus silence a resident's warnings."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import Gateway, seed
from tests.gateway.conftest import gateway as gateway
from tests.gateway.conftest import postgres as postgres
from tests.gateway.test_sms_service import release, rows, subscribe
from tests.gateway.test_sms_service import sms as sms
from tests.support.smsc import Smsc, wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]


async def test_peers_an_opted_out_number_still_gets_emergency_sms(gateway: Gateway, sms, smsc: Smsc) -> None:  # type: ignore[no-untyped-def]
    users = await seed(gateway)
    await subscribe(smsc, "84912000001", "84912000002")
    before = len(smsc.accepted)
    assert await smsc.mo("84912000002", b"HUY") == 0
    await wait_until(lambda: len(smsc.accepted) > before)  # the confirmation names the exception
    normal = await release(gateway, users, "Hop dan luc 15h", "normal")
    assert set(await rows(gateway, normal)) == {"+84912000001"}
    emergency = await release(gateway, users, "Bao so 9: so tan ngay", "emergency")
    assert {t: r.state for t, r in (await rows(gateway, emergency)).items()} == {
        "+84912000001": "sent",
        "+84912000002": "sent",
    }
