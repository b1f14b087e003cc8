"""The SMSC's answers are stored even when PostgreSQL restarts under the worker (found
by the chaos suite, docs/chaos.md): a submit_sm_resp that arrives while the database is
down was once lost with the transaction that should have stored its id, so the part
stayed ``submitting`` and the row became ``unknown`` (half a message at the resident)
although the SMSC had answered. The answer is held and written once the database is back."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from gateway.app import build_services, create_app, start
from gateway.config import Settings
from gateway.db.models import SmsPart
from gateway.sms.adapter import SmsChannel
from gateway.sms.service import SmsService
from gateway.sms.smpp.session import SessionConfig
from gateway.sms.smpp.transport import SmppConfig, SmppTransport
from tests.gateway.conftest import Gateway, change_first_password, seed
from tests.gateway.test_sms_service import STORM, release, rows, subscribe
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.smsc import Smsc, wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(180)]


@pytest_asyncio.fixture
async def own_postgres() -> AsyncIterator[PostgresServer]:
    """A server of this test's own: it is crashed and started again."""
    server = await asyncio.to_thread(start_postgres)
    yield server
    await asyncio.to_thread(server.stop)


async def test_s4_2_submit_sm_resp_arriving_while_postgresql_restarts_is_stored_when_it_is_back(
    tmp_path: Path, own_postgres: PostgresServer, smsc: Smsc
) -> None:
    url = own_postgres.url(await asyncio.to_thread(own_postgres.create_database))
    services = build_services(Settings(data_dir=tmp_path / "data", database_url=url, lease_seconds=30))
    await start(services)
    assert services.first_admin_password
    gateway = Gateway(services, create_app(services, run_worker=False), services.first_admin_password)
    await change_first_password(gateway)
    config = SessionConfig("127.0.0.1", smsc.port, "loa", "secret", reconnect_min_s=0.1, max_submit_tries=2)
    sms = SmsService(services.sessions, SmppTransport(SmppConfig(config, sender="UBNDXA")))
    await sms.start()
    try:
        services.channels["sms"] = SmsChannel(sms, daily_cap=1)
        services.dispatcher.settings = dataclasses.replace(services.dispatcher.settings, quiet_hours={})
        await wait_until(lambda: smsc.esmes)
        users = await seed(gateway)
        await subscribe(smsc, "84912000001")
        first = len(smsc.accepted)
        bid = await release(gateway, users, STORM, "normal", work=False)
        await services.dispatcher.run_schedules()
        smsc.hold_after = first  # part 1 reaches the SMSC; its answer waits
        worker = asyncio.create_task(gateway.run_worker())
        await wait_until(lambda: smsc.held, within=30)
        smsc.hold_after = None  # the next parts are answered at once
        await asyncio.to_thread(own_postgres.crash)
        smsc.release()  # the SMSC answers while the database is down
        await asyncio.sleep(1.0)
        await asyncio.to_thread(own_postgres.start_again)
        await asyncio.wait_for(worker, 60)
        (row,) = (await rows(gateway, bid)).values()
        assert row.state == "sent", row.detail
        async with services.sessions() as s:
            states = (await s.execute(select(SmsPart.seq, SmsPart.state).where(SmsPart.delivery_id == row.id))).all()
        assert sorted(states) == [(1, "submitted"), (2, "submitted"), (3, "submitted")]
        assert len(smsc.accepted) - first == 3  # each part once
    finally:
        await sms.close()
        await services.engine.dispose()
