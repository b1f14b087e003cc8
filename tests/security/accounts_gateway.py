"""A gateway on SQLite for the accounts and approval security tests, driven in-process
over ASGI (httpx); ``fresh`` keeps the first start's one-time admin password, ``ready``
has it changed and one user per role seeded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from gateway.app import build_services, create_app, start
from gateway.config import Settings
from tests.gateway.conftest import Gateway, change_first_password, seed

PASSWORD = "mat-khau-dai-1"
Clients = dict[str, tuple[httpx.AsyncClient, str]]


async def make(tmp_path: Path, **settings: Any) -> AsyncIterator[Gateway]:
    services = build_services(Settings(data_dir=tmp_path / "data", lease_seconds=30, **settings))
    await start(services)
    assert services.first_admin_password
    yield Gateway(services, create_app(services, run_worker=False), services.first_admin_password)
    await services.engine.dispose()


@pytest_asyncio.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[Gateway]:
    async for gw in make(tmp_path):
        yield gw


@pytest_asyncio.fixture
async def ready(tmp_path: Path) -> AsyncIterator[tuple[Gateway, Clients]]:
    async for gw in make(tmp_path):
        await change_first_password(gw)
        yield gw, await seed(gw)


def csrf(clients: Clients, name: str) -> dict[str, str]:
    return {"X-CSRF-Token": clients[name][1]}


async def new_bulletin(
    clients: Clients, author: str = "bientap", priority: str = "normal", body: str = "Họp dân lúc 8 giờ."
) -> int:
    client, token = clients[author]
    r = await client.post(
        "/api/v1/bulletins",
        headers={"X-CSRF-Token": token},
        json={"title": "Họp dân", "body": body, "priority": priority, "targets": [{"channel": "file", "area": "T1"}]},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])
