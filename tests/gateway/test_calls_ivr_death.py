"""Calls whose FastAGI session dies with its process (the chaos suite's kill -9 of a worker,
issue 19): the IVR's report, written when the session ends, never comes. What the resident
heard must still decide the row: a bulletin played to its end is not played again, one
never played is not counted delivered, and the worker taking the row over asks Asterisk
whether the call is still up instead of waiting half an hour for a report.

A process killed with SIGKILL writes nothing more: the tests let the serving worker's
``finish`` (the report written at the session's end) do nothing, then drop its FastAGI
server, as the kill does."""

from __future__ import annotations

# ruff: noqa: F811 (the fixtures of test_telephony, imported, are the tests' arguments)
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from gateway.db.models import CallAttempt, Delivery, utcnow
from gateway.delivery import ledger
from gateway.delivery.channel import Job
from gateway.ivr.calls import IvrReport
from gateway.telephony.setup import Telephony, build_telephony
from tests.gateway.conftest import Gateway, seed
from tests.gateway.test_telephony import (  # noqa: F401 (fixtures)
    asterisk,
    attempts,
    release,
    settle,
    telephony,
)
from tests.support.asterisk import Asterisk

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(180)]
NUMBER = "+84912000604"


@pytest_asyncio.fixture
async def serving(gateway: Gateway, telephony: Telephony, asterisk: Asterisk) -> AsyncIterator[Telephony]:
    """A second worker whose FastAGI server the dialplan's LOA names: it runs the IVR of
    every call, and dies as a killed process does (its report is never written)."""
    settings = gateway.services.dispatcher.settings
    built = build_telephony(
        settings, gateway.services.sessions, gateway.services.renderer, gateway.services.spool, None, "w2"
    )  # type: ignore[arg-type]
    assert built is not None
    await built.agi.start()
    asterisk.dialplan.globals["LOA"] = f"agi://127.0.0.1:{built.agi.port}"
    asterisk.write = {"originate", "reporting", "call"}  # conf/asterisk/manager.conf

    async def killed(call_id: str, report: IvrReport) -> None:
        return None  # SIGKILL: the session's end writes nothing

    built.ivr.contexts.finish = killed  # type: ignore[method-assign]
    yield built
    await built.close()


async def _row(gateway: Gateway, tmp_path: Path, seconds: int) -> tuple[int, int, Path]:
    users = await seed(gateway)
    render = tmp_path / "ban-tin.ulaw"
    render.write_bytes(b"\xff" * 8000 * seconds)  # 8 kHz mu-law silence
    bid = await release(gateway, users, channel="file")
    await settle(gateway, bid)
    async with gateway.services.sessions() as s:
        row = Delivery(bulletin_id=bid, channel="call-x", target=NUMBER, state="in_progress", attempts=1)
        s.add(row)
        await s.commit()
        return bid, row.id, render


def _job(row_id: int, bid: int, render: Path, recovered: bool) -> Job:
    claim = ledger.Claim(row_id, bid, 0, "call", NUMBER, 1, recovered=recovered)
    return Job(claim, bid, "t", "normal", "", artifacts={"telephone": render})


async def test_a_bulletin_played_to_its_end_counts_when_the_ivr_process_dies_before_its_report(
    gateway: Gateway, telephony: Telephony, serving: Telephony, asterisk: Asterisk, tmp_path: Path
) -> None:
    """The chaos suite's duplicate hearing: the worker serving the IVR was killed after the
    bulletin had played; the dialling worker saw the Hangup, no report, and called the
    resident again ("nhấc máy rồi gác trước khi nghe bản tin")."""
    asterisk.speed = 4.0
    bid, row_id, render = await _row(gateway, tmp_path, 2)
    outcome = await asyncio.wait_for(telephony.channel.deliver(_job(row_id, bid, render, False)), 60)
    (call,) = (await attempts(gateway))[NUMBER]
    played = asterisk.calls[call.call_id].played
    assert any("bulletins" in p for p in played), played  # the stand-in played it
    assert outcome.kind == "delivered", outcome.detail
    assert call.outcome == "delivered" and call.bulletin_complete


async def test_a_call_whose_worker_died_with_its_fastagi_session_is_settled_once_asterisk_says_it_is_gone(
    gateway: Gateway, telephony: Telephony, serving: Telephony, asterisk: Asterisk, tmp_path: Path
) -> None:
    """manager_channels.c CoreShowChannels: one CoreShowChannel event per live channel, its
    Uniqueid the ChannelId of the Originate. The session died before the bulletin: the row
    is neither counted delivered nor held for MAX_CALL_SECONDS; it is tried again."""
    asterisk.speed = 1.0
    bid, row_id, render = await _row(gateway, tmp_path, 20)
    dialling = asyncio.create_task(telephony.channel.deliver(_job(row_id, bid, render, False)))
    connected = None
    for _ in range(400):
        async with gateway.services.sessions() as s:
            connected = (
                await s.execute(select(CallAttempt.connected_at).where(CallAttempt.delivery_id == row_id))
            ).scalar_one_or_none()
        if connected is not None:
            break
        await asyncio.sleep(0.02)
    assert connected is not None, "the call never reached the IVR"
    dialling.cancel()  # the worker that dialled dies, and the FastAGI server with it
    await asyncio.gather(dialling, return_exceptions=True)
    await serving.agi.close()
    outcome = await asyncio.wait_for(telephony.channel.deliver(_job(row_id, bid, render, True)), 60)
    (call,) = (await attempts(gateway))[NUMBER]
    assert not any("bulletins" in p for p in asterisk.calls[call.call_id].played)
    assert outcome.kind == "retry", outcome.detail
    assert call.outcome != "delivered" and call.ended_at is not None
    assert len(asterisk.originates) == 1


async def test_a_row_taken_over_twice_is_judged_by_the_calls_made_not_by_its_claims(
    gateway: Gateway, telephony: Telephony, asterisk: Asterisk, tmp_path: Path
) -> None:
    """Seen in the chaos suite (seed 10632): one Originate, answered, its FastAGI session
    and two holders killed in turn; the third claim settled the call as lost with "đã gọi
    3 lần" and gave the resident up after a single call. The retry policy counts calls."""
    asterisk.write = {"originate", "reporting", "call"}
    bid, row_id, render = await _row(gateway, tmp_path, 2)
    async with gateway.services.sessions() as s:
        s.add(
            CallAttempt(
                call_id=f"loa-{row_id}-1",
                delivery_id=row_id,
                number=NUMBER,
                server="xa",
                outcome="answered",
                answered_at=utcnow(),
                connected_at=utcnow(),
            )
        )
        await s.commit()
    claim = ledger.Claim(row_id, bid, 0, "call", NUMBER, 3, recovered=True)  # the third claim, one call
    outcome = await asyncio.wait_for(
        telephony.channel.deliver(Job(claim, bid, "t", "normal", "", artifacts={"telephone": render})), 60
    )
    assert outcome.kind == "retry", outcome.detail
    assert not asterisk.originates and "3 lần" not in outcome.detail
