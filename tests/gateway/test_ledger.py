"""Delivery ledger: atomic claims, lease expiry and recovery, lease-guarded reports."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.db.models import Bulletin, Delivery, User, utcnow
from gateway.delivery import ledger
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.asyncio


async def rows(gw: Gateway, n: int, priority: int = 0) -> None:
    async with gw.services.sessions() as s:
        admin = (await s.execute(select(User))).scalars().first()
        assert admin is not None
        b = Bulletin(title="t", body="b", created_by=admin.id)
        s.add(b)
        await s.flush()
        for i in range(n):
            s.add(Delivery(bulletin_id=b.id, channel="file", target=f"T{priority}-{i}", priority=priority))
        await s.commit()


async def test_concurrent_claims_never_share_a_row(gateway: Gateway) -> None:
    await rows(gateway, 60)

    async def worker(name: str) -> list[int]:
        got: list[int] = []
        while True:
            async with gateway.services.sessions() as s:
                batch = await ledger.claim(s, "file", name, 30, limit=7)
            if not batch:
                return got
            got += [c.id for c in batch]

    results = await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
    claimed = [i for r in results for i in r]
    assert len(claimed) == 60 and len(set(claimed)) == 60


async def test_emergency_rows_are_claimed_first(gateway: Gateway) -> None:
    await rows(gateway, 5, priority=0)
    await rows(gateway, 2, priority=2)
    async with gateway.services.sessions() as s:
        batch = await ledger.claim(s, "file", "w", 30, limit=3)
    assert [c.target.split("-")[0] for c in batch] == ["T2", "T2", "T0"]


async def test_expired_lease_is_recovered_and_the_old_holder_cannot_report(gateway: Gateway) -> None:
    await rows(gateway, 1)
    async with gateway.services.sessions() as s:
        (first,) = await ledger.claim(s, "file", "dead-worker", 30)
        assert not first.recovered
        await s.execute(update(Delivery).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        await s.commit()
    async with gateway.services.sessions() as s:
        (again,) = await ledger.claim(s, "file", "new-worker", 30)
    # The take-over continues the interrupted try: it is not a new attempt (chaos.md, "found").
    assert again.id == first.id and again.recovered and again.attempts == 1
    async with gateway.services.sessions() as s:
        assert not await ledger.report(s, first.id, "dead-worker", ledger.Outcome("failed"), 5)
        assert await ledger.report(s, first.id, "new-worker", ledger.Outcome("delivered", reference="x"), 5)
        row = await s.get(Delivery, first.id)
        assert row is not None and row.state == "delivered"
    async with gateway.services.sessions() as s:
        assert await ledger.claim(s, "file", "w3", 30) == []  # confirmed outcomes are never repeated


async def test_a_take_over_does_not_spend_one_of_the_rows_attempts(gateway: Gateway) -> None:
    # Found by the chaos suite: a resident was called twice and given up "(hết 3 lần thử)"
    # because each take-over of the row by another worker counted as an attempt.
    await rows(gateway, 1)
    for holder in ("w1", "w2", "w3"):  # claimed, the holder dies, taken over, dies again...
        async with gateway.services.sessions() as s:
            await s.execute(update(Delivery).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
            await s.commit()
            (claim,) = await ledger.claim(s, "file", holder, 30)
            assert claim.attempts == 1
    async with gateway.services.sessions() as s:
        assert await ledger.report(s, claim.id, "w3", ledger.Outcome("retry", detail="máy bận", retry_after=0), 3)
        row = await s.get(Delivery, claim.id)
        assert row is not None and row.state == "retry" and row.attempts == 1
    for expected in (2, 3):  # the two tries left are really made
        async with gateway.services.sessions() as s:
            await s.execute(update(Delivery).values(next_attempt_at=utcnow()))
            await s.commit()
            (claim,) = await ledger.claim(s, "file", "w", 30)
            assert claim.attempts == expected and not claim.recovered
        async with gateway.services.sessions() as s:
            await ledger.report(s, claim.id, "w", ledger.Outcome("retry", detail="máy bận", retry_after=0), 3)
    async with gateway.services.sessions() as s:
        row = await s.get(Delivery, claim.id)
        assert row is not None and row.state == "failed" and row.attempts == 3


async def test_retries_stop_after_max_attempts_and_unknown_is_kept(gateway: Gateway) -> None:
    await rows(gateway, 2)
    for _ in range(3):
        async with gateway.services.sessions() as s:
            await s.execute(update(Delivery).where(Delivery.state == "retry").values(next_attempt_at=utcnow()))
            await s.commit()
            batch = await ledger.claim(s, "file", "w", 30)
        async with gateway.services.sessions() as s:
            for c in batch:
                kind = "retry" if c.target.endswith("0") else "unknown"
                await ledger.report(s, c.id, "w", ledger.Outcome(kind, detail="máy bận", retry_after=0), max_attempts=3)
    async with gateway.services.sessions() as s:
        states = {r.target: (r.state, r.attempts, r.detail) for r in (await s.execute(select(Delivery))).scalars()}
    assert states["T0-0"][0] == "failed" and states["T0-0"][1] == 3 and "hết 3 lần thử" in states["T0-0"][2]
    assert states["T0-1"][0] == "unknown"
    async with gateway.services.sessions() as s:
        ids = [r.id for r in (await s.execute(select(Delivery))).scalars()]
        assert all([await ledger.retry_now(s, i) for i in ids])


async def expire_bulletins(gw: Gateway, seconds_ago: float = 1.0) -> None:
    async with gw.services.sessions() as s:
        expired = utcnow() - timedelta(seconds=seconds_ago)
        await s.execute(update(Bulletin).values(expires_at=expired, status="delivering"))
        await s.commit()


async def test_cap_3_2_2_rows_of_an_expired_bulletin_settle_expired_and_are_never_claimed(gateway: Gateway) -> None:
    await rows(gateway, 3)
    async with gateway.services.sessions() as s:
        (held,) = await ledger.claim(s, "file", "dead-worker", 30, limit=1)
        await s.execute(update(Delivery).where(Delivery.id == held.id).values(lease_expires_at=utcnow()))
        await s.commit()
    await expire_bulletins(gateway)
    await rows(gateway, 1, priority=1)  # a bulletin without expiry is claimed as before
    async with gateway.services.sessions() as s:
        batch = await ledger.claim(s, "file", "w", 30)
        states = dict((await s.execute(select(Delivery.target, Delivery.state))).all())
    assert [c.target for c in batch] == ["T1-0"]
    assert states == {"T0-0": "expired", "T0-1": "expired", "T0-2": "expired", "T1-0": "in_progress"}


class Recorder:
    name = "file"
    quiet_hours_apply = False

    def __init__(self) -> None:
        self.started: list[int] = []

    async def deliver(self, job: object) -> ledger.Outcome:
        self.started.append(job.claim.id)  # type: ignore[attr-defined]
        return ledger.Outcome("delivered")


async def test_cap_3_2_2_a_row_claimed_before_expiry_is_not_started_after_it(gateway: Gateway) -> None:
    """A call or SMS waiting in a channel's queue when the alert expires never starts."""
    await rows(gateway, 1)
    async with gateway.services.sessions() as s:
        (claim,) = await ledger.claim(s, "file", gateway.services.dispatcher.worker, 30)
    await expire_bulletins(gateway)
    channel = Recorder()
    await gateway.services.dispatcher._deliver_one(channel, claim)
    async with gateway.services.sessions() as s:
        row = await s.get(Delivery, claim.id)
    assert channel.started == [] and row is not None and row.state == "expired"
