"""CAP 1.2 ingest (OASIS CAP v1.2 §3.2 element rules; §3.2.1 msgType Update/Cancel with references)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gateway.db.models import Bulletin, Delivery, Schedule, utcnow
from gateway.loudspeakers.agent import Agent, AgentConfig
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_devices import register

pytestmark = pytest.mark.asyncio


SENDER = "kttv@nchmf.gov.vn"


def cap(
    identifier: str,
    severity: str = "Extreme",
    urgency: str = "Immediate",
    msg_type: str = "Alert",
    references: str = "",
    status: str = "Actual",
    area: str = "<geocode><valueName>loa</valueName><value>T1</value></geocode>",
    sender: str = SENDER,
    times: str = "",
) -> bytes:
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier><sender>{sender}</sender><sent>2026-11-23T06:00:00+07:00</sent>
  <status>{status}</status><msgType>{msg_type}</msgType><scope>Public</scope>{refs}
  <info><language>vi-VN</language><category>Met</category><event>Bão số 3</event>
    <urgency>{urgency}</urgency><severity>{severity}</severity><certainty>Observed</certainty>{times}
    <headline>Bão số 3 đổ bộ</headline><description>Bão số 3 gió cấp 12, giật cấp 15.</description>
    <instruction>Bà con sơ tán đến nơi an toàn trước 14h.</instruction>
    <area><areaDesc>Thôn Một</areaDesc>{area}</area>
  </info>
</alert>""".encode()


def ref(identifier: str, sender: str = SENDER) -> str:
    return f"{sender},{identifier},2026-11-23T06:00:00+07:00"


async def token_for(gw: Gateway, user: str, senders: list[str] | None = None) -> dict[str, str]:
    users = await seed(gw)
    client, csrf = users[user]
    body: dict[str, object] = {"name": "kttv", **({"cap_senders": senders} if senders is not None else {})}
    token = (await client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf})).json()["token"]
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


async def status_of(client: httpx.AsyncClient, headers: dict[str, str], bulletin: int) -> str:
    r = await client.get(f"/api/v1/bulletins/{bulletin}", headers=headers)
    return str(r.json()["status"])


async def test_cap_3_2_1_update_refused_for_its_area_cancels_nothing(gateway: Gateway) -> None:
    """Validate the whole message before anything changes: an Update whose area matches
    nothing is refused, and the alert it references stays on the air."""
    headers = await token_for(gateway, "bientap")
    async with gateway.client() as client:
        first = (await client.post("/api/v1/alerts/cap", content=cap("U1", severity="Minor"), headers=headers)).json()
        nowhere = "<geocode><valueName>loa</valueName><value>NOWHERE</value></geocode>"
        body = cap("U2", msg_type="Update", references=ref("U1"), area=nowhere).replace("Thôn Một".encode(), b"Nowhere")
        r = await client.post("/api/v1/alerts/cap", content=body, headers=headers)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "info.area"
        assert await status_of(client, headers, first["bulletin"]) == "submitted"
        # the same Update with a matching area replaces it: cancellation and new bulletin together
        r = await client.post(
            "/api/v1/alerts/cap", content=cap("U3", msg_type="Update", references=ref("U1")), headers=headers
        )
        assert r.status_code == 201 and r.json()["cancelled"] == [first["bulletin"]]
        assert await status_of(client, headers, first["bulletin"]) == "cancelled"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (cap("X1").replace(b"<scope>Public</scope>", b""), "alert.scope"),
        (cap("X2").replace(b"</areaDesc>", b"</areaDesc><altitude>cao</altitude>"), "info.area.altitude"),
        (cap("X3").replace(b"<certainty>", b"<audience>dan</audience><certainty>"), "info.audience"),
        (cap("X4").replace(b"</alert>", b"<extra>1</extra></alert>"), "alert.extra"),
        (cap("X5").replace(b"<language>vi-VN</language>", b"<language>vi VN</language>"), "info.language"),
    ],
)
async def test_cap_appendix_a_schema_refuses_what_the_element_checks_miss(
    gateway: Gateway, body: bytes, field: str
) -> None:
    headers = await token_for(gateway, "bientap")
    async with gateway.client() as client:
        r = await client.post("/api/v1/alerts/cap", content=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field
        assert (await client.get("/api/v1/bulletins", headers=headers)).json() == []


async def test_cap_3_2_1_test_status_never_touches_an_actual_alert(gateway: Gateway) -> None:
    headers = await token_for(gateway, "vanhanh")
    async with gateway.client() as client:
        first = (await client.post("/api/v1/alerts/cap", content=cap("S1"), headers=headers)).json()
        r = await client.post(
            "/api/v1/alerts/cap",
            content=cap("S2", msg_type="Cancel", status="Test", references=ref("S1")),
            headers=headers,
        )
        assert r.status_code == 409 and r.json()["errors"][0]["field"] == "alert.status"
        assert await status_of(client, headers, first["bulletin"]) != "cancelled"


async def test_cap_3_2_1_references_of_another_sender_are_refused_and_audited(gateway: Gateway) -> None:
    headers = await token_for(gateway, "vanhanh")
    async with gateway.client() as client:
        first = (await client.post("/api/v1/alerts/cap", content=cap("C1"), headers=headers)).json()
        body = cap("C2", msg_type="Cancel", references=ref("C1"), sender="prank@example.org")
        r = await client.post("/api/v1/alerts/cap", content=body, headers=headers)
        assert r.status_code == 409 and r.json()["errors"][0]["field"] == "alert.references"
        assert await status_of(client, headers, first["bulletin"]) != "cancelled"
        log = (await client.get("/api/v1/audit", headers=headers)).json()
        refused = [e for e in log if e["action"] == "cap_refused"]
        assert refused and refused[0]["detail"]["sender"] == "prank@example.org"
        # the prank message itself was not kept: the same identifier from the right sender is accepted
        r = await client.post(
            "/api/v1/alerts/cap", content=cap("C2", msg_type="Cancel", references=ref("C1")), headers=headers
        )
        assert r.status_code == 201 and r.json()["cancelled"] == [first["bulletin"]]


async def test_cap_token_bound_to_senders_speaks_for_no_other(gateway: Gateway) -> None:
    headers = await token_for(gateway, "vanhanh", senders=[SENDER])
    async with gateway.client() as client:
        r = await client.post("/api/v1/alerts/cap", content=cap("K1", sender="other@example.org"), headers=headers)
        assert r.status_code == 403 and r.json()["errors"][0]["field"] == "alert.sender"
        r = await client.post("/api/v1/alerts/cap", content=cap("K2"), headers=headers)
        assert r.status_code == 201, r.text


async def test_cap_3_2_1_exercise_reaches_the_test_group_only(gateway: Gateway) -> None:
    headers = await token_for(gateway, "vanhanh")
    async with gateway.client() as client:
        r = await client.post("/api/v1/alerts/cap", content=cap("E1", status="Exercise"), headers=headers)
        assert r.status_code == 202 and r.json()["bulletin"] is None
        assert r.json()["reason"]["field"] == "alert.status"
        gateway.services.settings = dataclasses.replace(gateway.services.settings, cap_test_areas="T3")
        r = await client.post("/api/v1/alerts/cap", content=cap("E2", status="Exercise"), headers=headers)
        assert r.status_code == 201 and r.json()["test_group"] is True
        b = (await client.get(f"/api/v1/bulletins/{r.json()['bulletin']}", headers=headers)).json()
        assert {t["area"] for t in b["targets"]} == {"T3"}  # the alert named T1: residents are not reached
        assert b["title"].startswith("[Diễn tập]")


async def test_cap_3_2_2_expired_alert_is_stored_not_broadcast(gateway: Gateway) -> None:
    headers = await token_for(gateway, "vanhanh")
    async with gateway.client() as client:
        body = cap("EX1", times="<expires>2026-01-01T00:00:00+07:00</expires>")
        r = await client.post("/api/v1/alerts/cap", content=body, headers=headers)
        assert r.status_code == 202 and r.json()["bulletin"] is None
        assert r.json()["reason"]["field"] == "info.expires"
        assert (await client.post("/api/v1/alerts/cap", content=body, headers=headers)).status_code == 409


async def test_cap_3_2_2_rows_not_delivered_by_expires_settle_expired(gateway: Gateway) -> None:
    headers = await token_for(gateway, "vanhanh")
    async with gateway.client() as client:
        body = cap("EX2", times="<expires>2099-01-01T00:00:00+07:00</expires>")
        r = await client.post("/api/v1/alerts/cap", content=body, headers=headers)
        assert r.status_code == 201 and r.json()["expires"] == "2099-01-01T00:00:00+07:00"
        bid = r.json()["bulletin"]
        b = (await client.get(f"/api/v1/bulletins/{bid}", headers=headers)).json()
        assert b["expires_at"].startswith("2098-12-31T17:00:00")
        # time passes: the bulletin's expiry is now behind us before any row was claimed
        async with gateway.services.sessions() as session:
            bulletin = await session.get(Bulletin, bid)
            assert bulletin is not None
            await gateway.queue_due()  # rows queued, none claimed yet
            bulletin.expires_at = utcnow() - timedelta(seconds=1)
            await session.commit()
        await gateway.run_worker()
        async with gateway.services.sessions() as session:
            states = (await session.execute(select(Delivery.state).where(Delivery.bulletin_id == bid))).scalars().all()
        assert states and set(states) == {"expired"}
        console, _ = await gateway.login("vanhanh", "mat-khau-dai-1")
        page = (await console.get(f"/bulletins/{bid}")).text
        assert "Hết hạn, không gửi" in page and "hết hạn lúc" in page  # the console says why


async def test_cap_3_2_2_onset_is_the_earliest_air_time(gateway: Gateway) -> None:
    headers = await token_for(gateway, "vanhanh")
    async with gateway.client() as client:
        body = cap("ON1", times="<onset>2099-01-01T06:00:00+07:00</onset>")
        r = await client.post("/api/v1/alerts/cap", content=body, headers=headers)
        assert r.status_code == 201 and r.json()["air_from"] == "2099-01-01T06:00:00+07:00"
        await gateway.run_worker()
        assert await status_of(client, headers, r.json()["bulletin"]) == "scheduled"  # not aired now
        async with gateway.services.sessions() as session:
            run_at = (
                await session.execute(select(Schedule.run_at).where(Schedule.bulletin_id == r.json()["bulletin"]))
            ).scalar_one()
        assert run_at == datetime(2098, 12, 31, 23, 0, tzinfo=UTC)


async def test_cap_3_2_2_vietnamese_info_is_chosen_among_several(gateway: Gateway) -> None:
    english = (
        b"<info><language>en-US</language><category>Met</category><event>Typhoon</event><urgency>Immediate</urgency>"
        b"<severity>Extreme</severity><certainty>Observed</certainty><headline>Typhoon landfall</headline>"
        b"<area><areaDesc>Nowhere</areaDesc></area></info>"
    )
    headers = await token_for(gateway, "vanhanh")
    async with gateway.client() as client:
        body = cap("L1").replace(b"<info>", english + b"<info>", 1)
        r = await client.post("/api/v1/alerts/cap", content=body, headers=headers)
        assert r.status_code == 201, r.text
        b = (await client.get(f"/api/v1/bulletins/{r.json()['bulletin']}", headers=headers)).json()
        assert b["title"] == "Bão số 3 đổ bộ"


async def test_cap_3_2_2_clusters_receive_the_expiry_in_their_schedule(gateway: Gateway) -> None:
    """The item's expires_at is the CAP <expires> when that comes first (the agent never
    starts an item past its expires_at), and an expired bulletin leaves the schedule."""
    headers = await token_for(gateway, "vanhanh")
    token = await register(gateway)
    expires = (utcnow() + timedelta(minutes=10)).replace(microsecond=0)
    body = cap("LS1", times=f"<expires>{expires.isoformat()}</expires>")
    async with gateway.client() as client, gateway.client() as device:
        r = await client.post("/api/v1/alerts/cap", content=body, headers=headers)
        assert r.status_code == 201, r.text
        await gateway.run_worker()
        device.headers["Authorization"] = f"Bearer {token}"
        (item,) = (await device.get("/api/device/v1/schedule")).json()["items"]
        assert datetime.fromisoformat(item["expires_at"]) == expires  # not play_at + 30 min
        async with gateway.services.sessions() as session:
            bulletin = await session.get(Bulletin, r.json()["bulletin"])
            assert bulletin is not None
            bulletin.expires_at = utcnow() - timedelta(seconds=1)
            await session.commit()
        gateway.services.schedules.forget()
        assert (await device.get("/api/device/v1/schedule")).json()["items"] == []
        await gateway.run_worker()
        async with gateway.services.sessions() as session:
            query = select(Delivery).where(Delivery.bulletin_id == bulletin.id, Delivery.channel == "loudspeaker")
            row = (await session.execute(query)).scalar_one()
        assert row.state == "expired"  # handed to the cluster, never played: not "sent" for ever


async def test_cap_the_same_alert_posted_twice_at_once_is_one_bulletin(gateway: Gateway) -> None:
    headers = await token_for(gateway, "bientap")
    async with gateway.client() as client:
        answers = await asyncio.gather(
            *(client.post("/api/v1/alerts/cap", content=cap("D1", severity="Minor"), headers=headers) for _ in range(2))
        )
        assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
        assert len((await client.get("/api/v1/bulletins", headers=headers)).json()) == 1


async def test_cap_3_2_2_the_speaker_agent_never_starts_an_item_past_the_alert_expiry(
    gateway: Gateway, tmp_path: Path
) -> None:
    headers = await token_for(gateway, "vanhanh")
    token = await register(gateway)
    body = cap(
        "AG1", times=f"<expires>{(utcnow() + timedelta(minutes=10)).replace(microsecond=0).isoformat()}</expires>"
    )
    async with gateway.client() as client, gateway.client() as device:
        assert (await client.post("/api/v1/alerts/cap", content=body, headers=headers)).status_code == 201
        await gateway.run_worker()
        device.headers["Authorization"] = f"Bearer {token}"
        agent = Agent(AgentConfig(server="http://loa.test", token=token, state=tmp_path / "agent"), client=device)
        await agent.sync_once()
        assert [i["title"] for i in agent.due()] == ["Bão số 3 đổ bộ"]  # now: it would play
        agent.offset = timedelta(minutes=11)  # the cluster was busy or offline past the alert's expiry
        assert agent.due() == []
        outbox = (tmp_path / "agent" / "outbox.jsonl").read_text(encoding="utf-8")
        assert '"event": "expired"' in outbox


async def test_cap_3_2_1_cancel_of_an_alert_on_the_air_stops_it_everywhere(gateway: Gateway) -> None:
    """A Cancel takes the same path as the stop button: the cluster that already holds the
    item (its row `sent`) no longer sees it, the row settles with the CAP reason, the
    bulletin ends `cancelled`, and the stop is audited with the message that caused it."""
    headers = await token_for(gateway, "vanhanh")
    token = await register(gateway)
    async with gateway.client() as client, gateway.client() as device:
        r = await client.post("/api/v1/alerts/cap", content=cap("ON1"), headers=headers)
        assert r.status_code == 201, r.text
        bid = r.json()["bulletin"]
        await gateway.run_worker()
        device.headers["Authorization"] = f"Bearer {token}"
        assert len((await device.get("/api/device/v1/schedule")).json()["items"]) == 1
        async with gateway.services.sessions() as session:
            query = select(Delivery).where(Delivery.bulletin_id == bid, Delivery.channel == "loudspeaker")
            assert (await session.execute(query)).scalar_one().state == "sent"
        r = await client.post(
            "/api/v1/alerts/cap", content=cap("ON2", msg_type="Cancel", references=ref("ON1")), headers=headers
        )
        assert r.status_code == 201, r.text
        assert r.json()["cancelled"] == [bid]
        gateway.services.schedules.forget()
        assert (await device.get("/api/device/v1/schedule")).json()["items"] == []
        async with gateway.services.sessions() as session:
            rows = (await session.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars().all()
            bulletin = await session.get(Bulletin, bid)
            assert bulletin is not None and bulletin.status == "cancelled"
        assert rows and all(row.state in ("cancelled", "delivered") for row in rows)
        (ls,) = [row for row in rows if row.channel == "loudspeaker"]
        assert ls.state == "cancelled" and "ON2" in (ls.detail or "")
        audit = (await client.get("/api/v1/audit", headers=headers)).json()
        actions = {entry["action"] for entry in (audit if isinstance(audit, list) else audit.get("items", []))}
        assert "cap_cancel" in actions
