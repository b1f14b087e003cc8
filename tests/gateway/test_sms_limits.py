"""The operator's limits hold for the account, whatever the number of worker processes
(issue 17): two ``loa serve --role worker`` processes on one PostgreSQL database, sending
one campaign to the independent SMSC (smpp34.Server). What is checked is read from the
SMSC's own record: how many sessions were bound at once (``smpp_binds``), and how many
parts per second it accepted in all (``sms_tps``, shared by every bind)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import build_services, create_app, start
from gateway.config import Settings
from gateway.db.models import Area, Delivery, SmsPart, Subscriber
from gateway.sms import parts, receipts
from gateway.sms.transport import Receipt
from tests.gateway.conftest import Gateway, change_first_password, seed
from tests.gateway.test_sms_service import release
from tests.support.postgres import PostgresServer
from tests.support.smsc import Smsc, wait_until

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = 1000  # two claims of 500: each worker holds a batch at the same time
TPS = 100


@dataclasses.dataclass
class Campaign:
    gateway: Gateway
    url: str
    tmp: Path

    async def queue(self, recipients: int) -> int:
        """``recipients`` subscribers of one village, and a one-part bulletin to them,
        queued as ledger rows by this (test) process."""
        users = await seed(self.gateway)
        async with self.gateway.services.sessions() as s:
            area = (await s.execute(select(Area.id).where(Area.code == "T1"))).scalar_one()
            await s.execute(
                insert(Subscriber), [{"phone": f"+8491{n:07d}", "area_id": area} for n in range(recipients)]
            )
            await s.commit()
        bid = await release(self.gateway, users, "Hop dan luc 15h tai nha van hoa", "normal", work=False)
        await self.gateway.queue_due()
        async with self.gateway.services.sessions() as s:
            count = (await s.execute(select(func.count()).where(Delivery.bulletin_id == bid))).scalar_one()
        assert count == recipients
        return bid

    async def worker(self, name: str, smsc: Smsc, **keys: object) -> asyncio.subprocess.Process:
        config = self.tmp / f"{name}.toml"
        lines = [
            f'database_url = "{self.url}"',
            f'data_dir = "{(self.tmp / name).as_posix()}"',
            f'secret_key = "{"k" * 32}"',
            f'worker_id = "{name}"',
            'sms_transport = "smpp"',
            'smpp_host = "127.0.0.1"',
            f"smpp_port = {smsc.port}",
            'smpp_system_id = "loa"',
            'smpp_password = "secret"',
            "sms_daily_cap = 0",
            *(f"{key} = {value}" for key, value in keys.items()),
            "[quiet_hours.sms]",
            'start = "00:00"',
            'end = "00:00"',  # an empty window: the test runs at any hour
            "[quiet_hours.call]",
            'start = "00:00"',
            'end = "00:00"',
        ]
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LOA_CONFIG": str(config)}
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli", "serve", "--role", "worker", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip


@pytest_asyncio.fixture
async def campaign(postgres: PostgresServer, smsc: Smsc, tmp_path: Path) -> AsyncIterator[Campaign]:
    """This process plans the campaign (its SMS transport configured, never started)."""
    url = postgres.url(postgres.create_database())
    settings = Settings(
        data_dir=tmp_path / "test", database_url=url, secret_key="k" * 32, sms_transport="smpp",
        smpp_host="127.0.0.1", smpp_port=smsc.port, smpp_system_id="loa",
    )  # fmt: skip
    services = build_services(settings)
    await start(services)
    assert services.first_admin_password
    gateway = Gateway(services, create_app(services, run_worker=False), services.first_admin_password)
    await change_first_password(gateway)
    services.dispatcher.settings = dataclasses.replace(services.dispatcher.settings, quiet_hours={})
    yield Campaign(gateway, url, tmp_path)
    await services.engine.dispose()


async def run_workers(campaign: Campaign, smsc: Smsc, parts: int, **keys: object) -> None:
    workers = [await campaign.worker(f"w{i}", smsc, **keys) for i in range(2)]
    try:
        await wait_until(lambda: len(smsc.accepted) >= parts, within=120)
        await asyncio.sleep(1.0)  # anything more would be a part sent twice
    finally:
        for process in workers:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


def rate(smsc: Smsc, first: int) -> float:
    """Parts per second the SMSC accepted, first to last part of the campaign."""
    seen = smsc.accepted[first:]
    return (len(seen) - 1) / (seen[-1].at - seen[0].at)


def most_in_any(smsc: Smsc, first: int, span: float) -> int:
    times = [seen.at for seen in smsc.accepted[first:]]
    best, low = 0, 0
    for high, t in enumerate(times):
        while times[low] < t - span:
            low += 1
        best = max(best, high - low + 1)
    return best


async def test_two_workers_share_one_bind_and_the_accounts_tps(campaign: Campaign, smsc: Smsc) -> None:
    """Default ``smpp_binds = 1``: one of the two workers binds, the other sends nothing;
    the SMSC sees at most one session and at most ``sms_tps`` parts per second."""
    await campaign.queue(RECIPIENTS)
    first = len(smsc.accepted)
    await run_workers(campaign, smsc, first + RECIPIENTS, sms_tps=TPS)
    assert len(smsc.accepted) == first + RECIPIENTS
    assert smsc.peak_binds == 1
    assert len({seen.session for seen in smsc.accepted[first:]}) == 1
    assert rate(smsc, first) <= TPS * 1.2
    assert most_in_any(smsc, first, 2.0) <= TPS * 2 * 1.2


async def test_two_binds_share_the_accounts_tps_through_the_database(campaign: Campaign, smsc: Smsc) -> None:
    """``smpp_binds = 2``: each worker holds one bind, and together they stay within
    ``sms_tps`` (the rate's slots are handed out by the database)."""
    await campaign.queue(RECIPIENTS)
    first = len(smsc.accepted)
    await run_workers(campaign, smsc, first + RECIPIENTS, sms_tps=TPS, smpp_binds=2)
    assert len(smsc.accepted) == first + RECIPIENTS
    assert smsc.peak_binds <= 2
    assert rate(smsc, first) <= TPS * 1.2
    assert most_in_any(smsc, first, 2.0) <= TPS * 2 * 1.2


async def test_receipts_of_one_rows_parts_taken_by_two_binds_at_once_settle_the_row(campaign: Campaign) -> None:
    """An SMSC may deliver a receipt on any bind of the account: with two binds, parts 1
    and 2 of one message can be settled by two workers' transactions at the same time.
    Each saw the other's part not yet delivered; the row must still end ``delivered``."""
    bid = await campaign.queue(1)
    sessions = campaign.gateway.services.sessions
    async with sessions() as s:
        row = (await s.execute(select(Delivery).where(Delivery.bulletin_id == bid))).scalar_one()
        row.state = "sent"
        ids = [receipts.normalize_id(x) for x in ("1f0001", "1f0002")]
        for seq, message_id in enumerate(ids, 1):
            s.add(
                SmsPart(
                    reference=f"d{row.id}", delivery_id=row.id, recipient=row.target, seq=seq, total=2,
                    encoding="gsm7", transport="smpp", message_id=message_id, state="submitted",
                )
            )  # fmt: skip
        await s.commit()
        row_id = row.id

    async def receipt(session: AsyncSession, message_id: str) -> None:
        await parts.lock_ids(session, [message_id])
        _, rows, loaded = await parts.record_receipts(session, "smpp", [Receipt("delivered", "DELIVRD", message_id)])
        await parts.settle(session, rows, loaded)

    async with sessions() as first, sessions() as second:
        await receipt(first, ids[0])
        other = asyncio.create_task(receipt(second, ids[1]))
        await asyncio.sleep(0.5)  # the second transaction has read the parts meanwhile
        await first.commit()
        await other
        await second.commit()
    async with sessions() as s:
        assert (await s.get(Delivery, row_id)).state == "delivered"  # type: ignore[union-attr]
