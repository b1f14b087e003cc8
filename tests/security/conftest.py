"""A real ``loa serve`` on loopback, signed in once as the admin (password changed first,
as the console asks), for the security suite."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import build_services, create_app, start
from gateway.config import Settings
from tests.gateway.conftest import Gateway
from tests.support.server import admin_password, free_port, start_server

NEW_PASSWORD = "mat-khau-moi-rat-dai-1"


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    port: int
    data: Path
    log: Path
    token: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def api_token(base: str, password: str) -> str:
    with httpx.Client(base_url=base, timeout=30) as client:
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
        assert r.status_code == 200, r.text
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        change = {"current_password": password, "new_password": NEW_PASSWORD}
        assert client.post("/api/v1/me/password", json=change, headers=csrf).status_code == 200
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": NEW_PASSWORD})
        assert r.status_code == 200, r.text
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        r = client.post("/api/v1/tokens", json={"name": "kiem-thu"}, headers=csrf)
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


def serve(tmp: Path, env: dict[str, str] | None = None) -> Running:
    port, log = free_port(), tmp / "server.log"
    proc = start_server(tmp / "data", port, log, env=env)
    return Running(proc, port, tmp / "data", log, api_token(f"http://127.0.0.1:{port}", admin_password(log)))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = serve(tmp_path_factory.mktemp("security"))
    yield running
    running.proc.terminate()
    running.proc.wait(15)


@contextlib.asynccontextmanager
async def in_process(data: Path, **settings: Any) -> AsyncIterator[Gateway]:
    """An in-process gateway on SQLite (driven over ASGI by httpx) with these settings."""
    services = build_services(Settings(data_dir=data, lease_seconds=30, **settings))
    await start(services)
    assert services.first_admin_password
    try:
        yield Gateway(services, create_app(services, run_worker=False), services.first_admin_password)
    finally:
        await services.engine.dispose()
