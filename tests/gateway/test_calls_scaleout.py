"""Calls that do not depend on the memory of the process that dialled (issue 19): the call
context lives in the database, so Asterisk may reach another worker's FastAGI server, and
a worker that dies mid-call leaves the result to whichever process takes the row over."""

from __future__ import annotations

# ruff: noqa: F811 (the fixtures of test_telephony, imported, are the tests' arguments)
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from gateway.db.models import CallAttempt, Delivery
from gateway.delivery import ledger
from gateway.delivery.channel import Job
from gateway.telephony.setup import Telephony, build_telephony
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_telephony import (  # noqa: F401 (fixtures)
    asterisk,
    attempts,
    release,
    settle,
    subscribe,
    telephony,
)
from tests.support.asterisk import Asterisk, Script

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(180)]


@pytest_asyncio.fixture
async def other(gateway: Gateway, telephony: Telephony, asterisk: Asterisk) -> AsyncIterator[Telephony]:
    """A second worker on the same database: its own FastAGI server, the one the dialplan's
    LOA names, while the first worker dials."""
    settings = gateway.services.dispatcher.settings
    built = build_telephony(
        settings, gateway.services.sessions, gateway.services.renderer, gateway.services.spool, None, "w2"
    )  # type: ignore[arg-type]
    assert built is not None
    await built.agi.start()
    asterisk.dialplan.globals["LOA"] = f"agi://127.0.0.1:{built.agi.port}"
    yield built
    await built.close()


async def test_a_call_dialled_by_one_worker_is_served_by_the_other_workers_fastagi_server(
    gateway: Gateway, telephony: Telephony, other: Telephony, asterisk: Asterisk
) -> None:
    users = await seed(gateway)
    await subscribe(gateway, ["+84912000601"])
    bid = await release(gateway, users)
    rows = await settle(gateway, bid)
    assert rows["+84912000601"].state == "delivered" and "nghe hết" in rows["+84912000601"].detail
    assert other.ivr.calls == 1 and telephony.ivr.calls == 0  # answered on the other server
    (call,) = (await attempts(gateway))["+84912000601"]
    assert call.bulletin_complete and call.connected_at is not None and call.heard_seconds > 1


async def test_a_second_session_for_the_same_call_on_either_server_gets_nothing(
    gateway: Gateway, telephony: Telephony, other: Telephony, asterisk: Asterisk
) -> None:
    """Served once: the first server to connect the call takes it, in the database."""
    users = await seed(gateway)
    await subscribe(gateway, ["+84912000602"])
    bid = await release(gateway, users)
    await settle(gateway, bid)
    (call,) = (await attempts(gateway))["+84912000602"]
    variables = asterisk.calls[call.call_id].variables
    for server in (telephony, other):
        url = f"agi://127.0.0.1:{server.agi.port}/outbound?call={call.call_id}&key={variables['LOA_KEY']}"
        log = await asterisk.call_in("0912000602", url, Script())
        assert [c for c, _ in log.commands] == ["HANGUP"]


async def test_a_worker_dying_mid_call_loses_nothing_the_result_reaches_the_ledger(
    gateway: Gateway, telephony: Telephony, other: Telephony, asterisk: Asterisk, tmp_path: Path
) -> None:
    users = await seed(gateway)
    asterisk.speed = 2.0  # the call lasts a few seconds: time to kill the worker that dialled
    render = tmp_path / "ban-tin.ulaw"
    render.write_bytes(b"\xff" * 8000 * 4)  # four seconds of 8 kHz mu-law silence
    bid = await release(gateway, users, channel="file")
    await settle(gateway, bid)
    async with gateway.services.sessions() as s:
        row = Delivery(bulletin_id=bid, channel="call-x", target="+84912000603", state="in_progress", attempts=1)
        s.add(row)
        await s.commit()
        row_id = row.id

    def job(recovered: bool) -> Job:
        claim = ledger.Claim(row_id, bid, 0, "call", "+84912000603", 1, recovered=recovered)
        return Job(claim, bid, "t", "normal", "", artifacts={"telephone": render})

    dialling = asyncio.create_task(telephony.channel.deliver(job(False)))
    for _ in range(200):
        async with gateway.services.sessions() as s:
            connected = (
                await s.execute(select(CallAttempt.connected_at).where(CallAttempt.delivery_id == row_id))
            ).scalar_one_or_none()
        if connected is not None:
            break
        await asyncio.sleep(0.05)
    assert connected is not None, "the call never reached the IVR"
    dialling.cancel()  # the worker that dialled is gone: its watches, its waits, its memory
    await asyncio.gather(dialling, return_exceptions=True)
    outcome = await other.channel.deliver(job(True))  # the other worker takes the row over
    assert outcome.kind == "delivered" and "nghe hết" in outcome.detail, outcome.detail
    assert len(asterisk.originates) == 1  # settled from the record, not dialled again
    (call,) = (await attempts(gateway))["+84912000603"]
    assert call.outcome == "delivered" and call.bulletin_complete and call.heard_seconds >= 3.9
