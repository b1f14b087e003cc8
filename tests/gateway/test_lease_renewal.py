"""A worker keeps the leases of the rows it claimed for as long as it is delivering them
(found by the chaos suite, docs/chaos.md): a batch that takes longer than
``lease_seconds`` (an SMS campaign throttled by ``sms_tps``, a paced file channel) must
not be claimed by another worker as if its holder had died, or the rows are reported
``unknown`` (SMS), resent (emergencies) or written twice."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

import pytest
from sqlalchemy import select

from gateway.db.models import Delivery
from gateway.delivery import ledger
from gateway.delivery.channel import Job
from tests.gateway.conftest import Gateway
from tests.gateway.test_ledger import rows

pytestmark = pytest.mark.asyncio


class Slow:
    """A channel that takes ``seconds`` per row, one row at a time."""

    name = "file"
    quiet_hours_apply = False

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.done: list[int] = []

    async def deliver(self, job: Job) -> ledger.Outcome:
        await asyncio.sleep(self.seconds)
        self.done.append(job.claim.id)
        return ledger.Outcome("delivered")


class SlowBatch(Slow):
    batch = 10

    async def deliver_many(self, jobs: Sequence[Job]) -> list[ledger.Outcome]:
        return [await self.deliver(job) for job in jobs]


@pytest.mark.parametrize("kind", [Slow, SlowBatch])
async def test_rows_a_live_worker_is_still_delivering_are_not_taken_over(gateway: Gateway, kind: type[Slow]) -> None:
    await rows(gateway, 2)
    dispatcher = gateway.services.dispatcher
    dispatcher.settings = dataclasses.replace(dispatcher.settings, lease_seconds=5)  # the shortest allowed
    channel = kind(3.2)  # two rows: 6.4 s, longer than the lease
    working = asyncio.create_task(dispatcher.run_channel(channel))
    await asyncio.sleep(5.6)
    async with gateway.services.sessions() as s:
        taken = await ledger.claim(s, "file", "other-worker", 1)
    await working
    assert taken == []
    assert len(channel.done) == 2
    async with gateway.services.sessions() as s:
        states = (await s.execute(select(Delivery.state))).scalars().all()
    assert states == ["delivered"] * 2


class Feed(Slow):
    """A channel fed a slot at a time, as calls are (``Dispatcher.feed_channel``)."""

    concurrency = 1
    rate = 1.0


async def test_rows_claimed_ahead_for_a_call_slot_are_not_taken_over_while_they_wait(gateway: Gateway) -> None:
    """The chaos suite's call scenario found a resident called twice, and hearing the
    bulletin twice, with no process dying: a row claimed ahead waited for a slot longer
    than its lease, another worker dialled it, then the first dialled it too."""
    await rows(gateway, 2)
    dispatcher = gateway.services.dispatcher
    dispatcher.settings = dataclasses.replace(dispatcher.settings, lease_seconds=5)
    channel = Feed(6.0)  # the first row's call outlasts the lease of the row waiting behind it
    working = asyncio.create_task(dispatcher.feed_channel(channel))
    await asyncio.sleep(5.6)
    async with gateway.services.sessions() as s:
        taken = await ledger.claim(s, "file", "other-worker", 5)
    await working
    assert taken == []
    assert len(channel.done) == 2
