"""CAP 1.2 ingest (OASIS CAP v1.2 §3.2 element rules; §3.2.1 msgType Update/Cancel with references)."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import Gateway, seed

pytestmark = pytest.mark.asyncio


def cap(
    identifier: str,
    severity: str = "Extreme",
    urgency: str = "Immediate",
    msg_type: str = "Alert",
    references: str = "",
    status: str = "Actual",
    area: str = "<geocode><valueName>loa</valueName><value>T1</value></geocode>",
) -> bytes:
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier><sender>kttv@nchmf.gov.vn</sender><sent>2026-11-23T06:00:00+07:00</sent>
  <status>{status}</status><msgType>{msg_type}</msgType><scope>Public</scope>{refs}
  <info><language>vi-VN</language><category>Met</category><event>Bão số 3</event>
    <urgency>{urgency}</urgency><severity>{severity}</severity><certainty>Observed</certainty>
    <headline>Bão số 3 đổ bộ</headline><description>Bão số 3 gió cấp 12, giật cấp 15.</description>
    <instruction>Bà con sơ tán đến nơi an toàn trước 14h.</instruction>
    <area><areaDesc>Thôn Một</areaDesc>{area}</area>
  </info>
</alert>""".encode()


async def token_for(gw: Gateway, user: str) -> dict[str, str]:
    users = await seed(gw)
    client, csrf = users[user]
    token = (await client.post("/api/v1/tokens", json={"name": "kttv"}, headers={"X-CSRF-Token": csrf})).json()["token"]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}


async def test_cap_3_2_severe_immediate_alert_goes_out_as_emergency(gateway: Gateway) -> None:
    headers = await token_for(gateway, "vanhanh")  # operator allowed to skip approval
    async with gateway.client() as client:
        r = await client.post("/api/v1/alerts/cap", content=cap("A1"), headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["priority"] == "emergency"
        bid = r.json()["bulletin"]
        await gateway.run_worker()
        b = (await client.get(f"/api/v1/bulletins/{bid}", headers=headers)).json()
        assert b["status"] == "done" and b["priority"] == "emergency"
        r = await client.post("/api/v1/alerts/cap", content=cap("A1"), headers=headers)
        assert r.status_code == 409  # the same alert twice is one bulletin


async def test_cap_3_2_moderate_alert_is_priority_and_waits_for_approval(gateway: Gateway) -> None:
    headers = await token_for(gateway, "bientap")
    async with gateway.client() as client:
        r = await client.post(
            "/api/v1/alerts/cap", content=cap("A2", severity="Moderate", urgency="Expected"), headers=headers
        )
        assert r.json()["priority"] == "priority"
        b = (await client.get(f"/api/v1/bulletins/{r.json()['bulletin']}", headers=headers)).json()
        assert b["status"] == "submitted"


async def test_cap_3_2_1_cancel_references_the_earlier_alert(gateway: Gateway) -> None:
    headers = await token_for(gateway, "bientap")
    async with gateway.client() as client:
        first = (await client.post("/api/v1/alerts/cap", content=cap("A3", severity="Minor"), headers=headers)).json()
        r = await client.post(
            "/api/v1/alerts/cap",
            headers=headers,
            content=cap("A4", msg_type="Cancel", references="kttv@nchmf.gov.vn,A3,2026-11-23T06:00:00+07:00"),
        )
        assert r.json()["cancelled"] == [first["bulletin"]]
        b = (await client.get(f"/api/v1/bulletins/{first['bulletin']}", headers=headers)).json()
        assert b["status"] == "cancelled"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (cap("B1").replace(b"<severity>Extreme</severity>", b"<severity>Huge</severity>"), "info.severity"),
        (cap("B2").replace(b"<category>Met</category>", b""), "info.category"),
        (cap("B3").replace(b"<identifier>B3</identifier>", b""), "alert.identifier"),
        (cap("B4").replace(b"+07:00</sent>", b"</sent>"), "alert.sent"),
        (
            cap("B5", area="<geocode><valueName>loa</valueName><value>NOWHERE</value></geocode>").replace(
                b"Th\xc3\xb4n M\xe1\xbb\x99t", b"Nowhere"
            ),
            "info.area",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]>'
            b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&x;</alert>',
            "body",
        ),
        (b"<alert>", "body"),
        (b'<alert xmlns="urn:other"/>', "alert"),
    ],
)
async def test_bad_cap_is_refused_with_the_element_named(gateway: Gateway, body: bytes, field: str) -> None:
    headers = await token_for(gateway, "bientap")
    async with gateway.client() as client:
        r = await client.post("/api/v1/alerts/cap", content=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field
