"""A gateway on a temporary data directory, driven in-process over ASGI (httpx)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from gateway.app import Services, build_services, create_app, start
from gateway.config import Settings
from gateway.sms.adapter import SmsChannel
from gateway.sms.service import SmsService
from gateway.sms.smpp.session import SessionConfig
from gateway.sms.smpp.transport import SmppConfig, SmppTransport
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.smsc import Smsc, wait_until


@dataclass
class Gateway:
    services: Services
    app: object
    admin_password: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://loa.test")  # type: ignore[arg-type]

    async def login(self, username: str, password: str) -> tuple[httpx.AsyncClient, str]:
        client = self.client()
        r = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return client, r.json()["csrf_token"]

    async def run_worker(self, rounds: int = 20) -> None:
        for _ in range(rounds):
            busy = await self.services.dispatcher.tick()
            # Renders run beside the tick: wait for them here, then look at their schedules again.
            if not await self.services.dispatcher.settle_renders() and not busy:
                return

    async def queue_due(self) -> None:
        """Due schedules queued as ledger rows, their renders awaited (the worker's loop does
        not wait for renders: it comes back to a schedule when its render ends)."""
        dispatcher = self.services.dispatcher
        await dispatcher.run_schedules()
        while await dispatcher.settle_renders():
            await dispatcher.run_schedules()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def gateway(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Gateway]:
    """The same gateway on the embedded default (SQLite) and on PostgreSQL (scale-out)."""
    url = ""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.url(server.create_database())
    settings = Settings(data_dir=tmp_path / "data", database_url=url, lease_seconds=30)
    services = build_services(settings)
    await start(services)
    assert services.first_admin_password
    gw = Gateway(services, create_app(services, run_worker=False), services.first_admin_password)
    await change_first_password(gw)
    yield gw
    await asyncio.gather(*services.previews.tasks, return_exceptions=True)  # audio made at submission
    await services.engine.dispose()


async def change_first_password(gw: Gateway) -> None:
    """The one-time password of the first start allows nothing else until it is changed;
    afterwards ``gw.admin_password`` is the new one."""
    client, csrf = await gw.login("admin", gw.admin_password)
    new = gw.admin_password + "-da-doi"
    r = await client.post(
        "/api/v1/me/password",
        json={"current_password": gw.admin_password, "new_password": new},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    gw.admin_password = new


async def seed(gw: Gateway) -> dict[str, tuple[httpx.AsyncClient, str]]:
    """Areas (province > commune > 3 villages) and one user per role."""
    async with gw.client() as probe:  # a fresh gateway: its one-time password allows nothing else
        r = await probe.post("/api/v1/auth/login", json={"username": "admin", "password": gw.admin_password})
        if r.status_code == 200 and r.json()["user"]["must_change_password"]:
            await change_first_password(gw)
    admin, csrf = await gw.login("admin", gw.admin_password)
    h = {"X-CSRF-Token": csrf}
    for code, name, level, parent in (
        ("HN", "Hà Nội", "province", None),
        ("XA1", "Xã Một", "commune", "HN"),
        ("T1", "Thôn Một", "village", "XA1"),
        ("T2", "Thôn Hai", "village", "XA1"),
        ("T3", "Thôn Ba", "village", "XA1"),
    ):
        r = await admin.post(
            "/api/v1/areas", json={"code": code, "name": name, "level": level, "parent": parent}, headers=h
        )
        assert r.status_code == 201, r.text
    for username, role, skip in (
        ("bientap", "editor", False),
        ("duyet", "approver", False),
        ("vanhanh", "operator", True),
    ):
        r = await admin.post(
            "/api/v1/users",
            json={
                "username": username,
                "role": role,
                "password": "mat-khau-dai-1",
                "full_name": username,
                "can_skip_approval": skip,
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
    clients = {"admin": (admin, csrf)}
    for username in ("bientap", "duyet", "vanhanh"):
        clients[username] = await gw.login(username, "mat-khau-dai-1")
    return clients


@pytest_asyncio.fixture
async def sms(gateway: Gateway, smsc: Smsc) -> AsyncIterator[SmsService]:
    """The SMS service over SMPP to the test SMSC, wired as the gateway's SMS channel
    (daily cap 1, quiet hours off: the tests run at any hour)."""
    session = SessionConfig("127.0.0.1", smsc.port, "loa", "secret", reconnect_min_s=0.1, max_submit_tries=2)
    service = SmsService(gateway.services.sessions, SmppTransport(SmppConfig(session, sender="UBNDXA")))
    await service.start()
    gateway.services.channels["sms"] = SmsChannel(service, daily_cap=1)
    dispatcher = gateway.services.dispatcher
    dispatcher.settings = dataclasses.replace(dispatcher.settings, quiet_hours={})
    await wait_until(lambda: smsc.esmes)
    yield service
    await service.close()
