"""Database engine and sessions; SQLite gets WAL, a busy timeout and foreign keys."""

from __future__ import annotations

import asyncio
import logging
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


MIGRATION_LOCK = 0x4C6F61  # "Loa": the PostgreSQL advisory lock key of schema migrations


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to the newest Alembic revision, under a database lock: every
    process of a deployment may run it at once (``loa db upgrade``, or at start-up); one
    migrates, the others wait and then find the schema current. ``revision``: an older
    one, for tests that upgrade a database holding rows."""
    from alembic import command
    from alembic.config import Config

    def upgrade(connection: Any) -> None:
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    for attempt in range(50):
        try:
            async with engine.connect() as connection:
                sqlite = connection.dialect.name == "sqlite"
                if sqlite:
                    # SQLite adds a constraint by rebuilding the table, and dropping the old copy of a
                    # table others refer to fails with foreign keys on. They cannot be switched inside
                    # a transaction: off before it (SQLite's "12-step" ALTER), checked before commit.
                    await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                    await connection.commit()
                try:
                    async with connection.begin():
                        if connection.dialect.name == "postgresql":
                            lock = text("SELECT pg_advisory_xact_lock(:key)")
                            await connection.execute(lock, {"key": MIGRATION_LOCK})
                        elif sqlite:  # the write lock first, then Alembic reads its version
                            await connection.execute(text("CREATE TABLE IF NOT EXISTS loa_migration_lock (id INTEGER)"))
                            await connection.execute(text("DELETE FROM loa_migration_lock WHERE 0"))
                        await connection.run_sync(upgrade)
                        if sqlite:
                            broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                            if broken:
                                raise RuntimeError(f"migration left rows referring to nothing: {broken[:5]!r}")
                finally:
                    if sqlite:
                        await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                        await connection.commit()
            return
        except OperationalError as exc:
            # SQLite: a transaction whose snapshot predates another process's migration
            # cannot become the writer (SQLITE_BUSY_SNAPSHOT, no busy wait); it rolled back
            # whole (SQLite's DDL is transactional): begin again on the new snapshot.
            if engine.dialect.name != "sqlite" or "locked" not in str(exc) or attempt == 49:
                raise
            await asyncio.sleep(0.1)


async def write_lock(session: AsyncSession) -> None:
    """Start the transaction as a writer. SQLite cannot upgrade a reader to a writer once
    another connection has committed (SQLITE_BUSY_SNAPSHOT, no busy wait), so a
    read-then-write transaction on SQLite takes the write lock first; other databases
    need nothing.

    Writers of one process queue on an asyncio lock first, held until the transaction
    ends: SQLite's own busy handler makes a waiting writer sleep (up to 100 ms a time)
    while the lock is free again after a millisecond, which cost the SMS path most of its
    throughput. A writer that waits longer than SQLite's busy timeout goes on without the
    queue, as it did before it existed, so a transaction that (wrongly) waits for another
    one of the same process cannot hang."""
    if session.get_bind().dialect.name != "sqlite":
        return
    info = session.sync_session.info
    if _GATE not in info:
        gate = _gate(session)
        try:
            await asyncio.wait_for(gate.acquire(), timeout=30)
        except TimeoutError:
            logging.getLogger(__name__).warning("SQLite write queue: waited 30 s, going on without it")
        else:
            info[_GATE] = gate
    await session.execute(text("UPDATE deliveries SET id = id WHERE 0"))


_GATE = "loa_sqlite_write_gate"
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _gate(session: AsyncSession) -> asyncio.Lock:
    per_loop = _gates.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(id(session.get_bind()), asyncio.Lock())


@event.listens_for(Session, "after_transaction_end")
def _release_gate(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        gate = session.info.pop(_GATE, None)
        if gate is not None:
            gate.release()
