"""Daily recurrences (issue 13): filling in only a recurrence never airs the bulletin now;
the bulletin lists its next air times; a daily schedule can be paused, resumed and
cancelled, each audited. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from gateway.db.models import AuditLog, Bulletin, Delivery, Schedule
from tests.gateway.conftest import Gateway, seed

pytestmark = pytest.mark.asyncio


async def _approved(gateway: Gateway, users) -> int:  # type: ignore[no-untyped-def]
    editor, ecsrf = users["bientap"]
    body = {
        "title": "Lịch tiêm phòng",
        "body": "Tiêm phòng dại cho chó mèo.",
        "targets": [{"channel": "file", "area": "T1"}],
    }
    bid = int((await editor.post("/api/v1/bulletins", json=body, headers={"X-CSRF-Token": ecsrf})).json()["id"])
    await editor.post(f"/api/v1/bulletins/{bid}/submit", headers={"X-CSRF-Token": ecsrf})
    approver, acsrf = users["duyet"]
    await approver.post(f"/api/v1/bulletins/{bid}/approve", headers={"X-CSRF-Token": acsrf})
    return bid


async def _rows(gateway: Gateway, bid: int) -> list[Delivery]:
    async with gateway.services.sessions() as s:
        return list((await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalars())


async def test_only_a_recurrence_filled_in_airs_at_its_next_time_not_now(gateway: Gateway) -> None:
    users = await seed(gateway)
    bid = await _approved(gateway, users)
    approver, acsrf = users["duyet"]
    now = datetime.now(UTC)
    later = (now + timedelta(hours=3)).astimezone(UTC)
    spec = f"daily {(later + timedelta(hours=7)).strftime('%H:%M')}"  # three hours from now, Vietnam time
    r = await approver.post(
        f"/api/v1/bulletins/{bid}/schedule", json={"recurrence": spec}, headers={"X-CSRF-Token": acsrf}
    )
    assert r.status_code == 200, r.text
    await gateway.run_worker()
    assert await _rows(gateway, bid) == []  # nothing aired now
    async with gateway.services.sessions() as s:
        (sched,) = (await s.execute(select(Schedule).where(Schedule.bulletin_id == bid))).scalars()
    assert timedelta(hours=2, minutes=58) < sched.run_at - now <= timedelta(hours=3)


async def test_the_next_air_times_are_listed_and_a_daily_schedule_paused_resumed_cancelled(gateway: Gateway) -> None:
    users = await seed(gateway)
    bid = await _approved(gateway, users)
    approver, acsrf = users["duyet"]
    h = {"X-CSRF-Token": acsrf}
    first = datetime.now(UTC) + timedelta(hours=1)
    r = await approver.post(
        f"/api/v1/bulletins/{bid}/schedule",
        json={"run_at": first.isoformat(), "recurrence": "daily 06:00,17:00"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    (listed,) = (await approver.get(f"/api/v1/bulletins/{bid}/schedules")).json()
    assert not listed["paused"] and len(listed["next"]) == 5
    times = [datetime.fromisoformat(t) for t in listed["next"]]
    assert times == sorted(times) and abs((times[0] - first).total_seconds()) < 1
    assert {t.split(" ")[0] for t in listed["next_local"][1:]} == {"06:00", "17:00"}
    sid = listed["id"]

    one_off = await approver.post(f"/api/v1/bulletins/{bid}/schedules/{sid}/resume", headers=h)
    assert one_off.status_code == 409  # not paused
    paused = await approver.post(f"/api/v1/bulletins/{bid}/schedules/{sid}/pause", headers=h)
    assert paused.status_code == 200 and paused.json()[0]["paused"]
    async with gateway.services.sessions() as s:  # its time comes while paused
        await s.execute(
            update(Schedule).where(Schedule.id == sid).values(run_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await s.commit()
    await gateway.run_worker()
    assert await _rows(gateway, bid) == []  # paused: nothing airs
    resumed = await approver.post(f"/api/v1/bulletins/{bid}/schedules/{sid}/resume", headers=h)
    assert resumed.status_code == 200
    following = datetime.fromisoformat(resumed.json()[0]["next"][0])
    assert following > datetime.now(UTC)  # the time missed while paused is skipped, not aired now
    await gateway.run_worker()
    assert await _rows(gateway, bid) == []

    cancelled = await approver.post(f"/api/v1/bulletins/{bid}/schedules/{sid}/cancel", headers=h)
    assert cancelled.status_code == 200 and cancelled.json() == []
    assert (await approver.post(f"/api/v1/bulletins/{bid}/schedules/{sid}/pause", headers=h)).status_code == 409
    assert (await approver.post(f"/api/v1/bulletins/{bid}/schedules/{sid}/skip", headers=h)).status_code == 404
    async with gateway.services.sessions() as s:
        bulletin = await s.get(Bulletin, bid)
        actions = list(
            (
                await s.execute(
                    select(AuditLog.action).where(AuditLog.action.startswith("schedule")).order_by(AuditLog.id)
                )
            ).scalars()
        )
    assert bulletin is not None and bulletin.status == "approved"  # nothing left to air: it may be scheduled again
    assert actions == ["schedule", "schedule_pause", "schedule_resume", "schedule_cancel"]


async def test_a_one_off_schedule_cannot_be_paused_only_cancelled(gateway: Gateway) -> None:
    users = await seed(gateway)
    bid = await _approved(gateway, users)
    approver, acsrf = users["duyet"]
    h = {"X-CSRF-Token": acsrf}
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    await approver.post(f"/api/v1/bulletins/{bid}/schedule", json={"run_at": later}, headers=h)
    (listed,) = (await approver.get(f"/api/v1/bulletins/{bid}/schedules")).json()
    assert len(listed["next"]) == 1
    r = await approver.post(f"/api/v1/bulletins/{bid}/schedules/{listed['id']}/pause", headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "schedule"
