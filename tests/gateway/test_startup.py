"""Start-up of several processes against one empty database (issue 17): every process may
run the migrations at once (they take a database lock, so one migrates and the others
find the schema current), and the first admin's one-time password is printed by
whichever process created it, worker or web, exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from gateway.app import build_services, start
from gateway.config import Settings
from gateway.db.models import User
from gateway.db.session import make_engine, migrate
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.url(server.create_database())
    return f"sqlite+aiosqlite:///{(tmp_path / 'loa.db').as_posix()}"


async def test_every_process_may_run_the_migrations_at_once(empty_database: str) -> None:
    engines = [make_engine(empty_database) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(engine) for engine in engines))
        async with engines[0].connect() as connection:
            versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert len(versions) == 1
    finally:
        for engine in engines:
            await engine.dispose()


async def test_the_first_admin_password_is_printed_once_by_the_process_that_created_it(
    empty_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    processes = [
        build_services(Settings(data_dir=tmp_path / f"p{i}", database_url=empty_database, secret_key="k" * 32))
        for i in range(3)
    ]
    try:
        await asyncio.gather(*(start(services) for services in processes))
        created = [s.first_admin_password for s in processes if s.first_admin_password]
        assert len(created) == 1
        out = capsys.readouterr().out
        assert out.count(created[0]) == 1 and "admin" in out
        async with processes[0].sessions() as session:
            assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 1
    finally:
        for services in processes:
            await services.engine.dispose()
