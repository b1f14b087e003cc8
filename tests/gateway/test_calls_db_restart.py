"""A call's record survives a PostgreSQL restart (found by the chaos suite,
docs/chaos.md): the worker waiting for the IVR's report polls the call's row, and a poll
that met the restart raised out of the channel; the dispatcher recorded the row as
``retry`` and the resident, who had heard the bulletin, was called again. The wait for the
report, and the writes of the report and of the call's outcome, wait for the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import CallAttempt
from gateway.db.session import make_engine, make_sessions, migrate
from gateway.ivr.calls import CallContexts, IvrReport
from gateway.telephony.attempts import Attempts
from gateway.telephony.outcomes import CallResult, RetryPolicy
from tests.support.postgres import PostgresServer, start_postgres

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]


@pytest_asyncio.fixture
async def database() -> AsyncIterator[tuple[PostgresServer, async_sessionmaker[AsyncSession]]]:
    """A server of this test's own (it is crashed), with the schema and one call up."""
    server = await asyncio.to_thread(start_postgres)
    engine = make_engine(server.url(await asyncio.to_thread(server.create_database)))
    await migrate(engine)
    sessions = make_sessions(engine)
    async with sessions() as s:
        s.add(CallAttempt(call_id="loa-1-1-abc", number="+84912000801", server="xa", outcome="answered"))
        await s.commit()
    yield server, sessions
    await engine.dispose()
    await asyncio.to_thread(server.stop)


async def restart(server: PostgresServer) -> None:
    await asyncio.to_thread(server.crash)
    await asyncio.sleep(1.5)  # the waiting worker polls every 0.5 s: it meets the outage
    await asyncio.to_thread(server.start_again)


async def test_the_wait_for_the_ivr_report_outlasts_a_postgresql_restart(
    database: tuple[PostgresServer, async_sessionmaker[AsyncSession]],
) -> None:
    server, sessions = database
    contexts = CallContexts(sessions)
    waiting = asyncio.create_task(contexts.report("loa-1-1-abc"))
    await asyncio.sleep(0.6)
    await restart(server)
    assert not waiting.done() or waiting.exception() is None, waiting.exception()
    await CallContexts(sessions).finish("loa-1-1-abc", IvrReport(8000 * 9, True))  # another worker's IVR
    report = await asyncio.wait_for(waiting, 10)
    assert report.bulletin_complete


async def test_a_calls_outcome_written_while_postgresql_is_down_is_stored_when_it_is_back(
    database: tuple[PostgresServer, async_sessionmaker[AsyncSession]],
) -> None:
    server, sessions = database
    attempts = Attempts(sessions, CallContexts(sessions), RetryPolicy())
    await asyncio.to_thread(server.crash)
    writing = asyncio.create_task(
        attempts.end("loa-1-1-abc", CallResult(answered=True, cause=16), "delivered", "đã nghe hết bản tin")
    )
    await asyncio.sleep(1.0)
    await asyncio.to_thread(server.start_again)
    await asyncio.wait_for(writing, 30)
    async with sessions() as s:
        outcome = (await s.execute(select(CallAttempt.outcome))).scalar_one()
    assert outcome == "delivered"
